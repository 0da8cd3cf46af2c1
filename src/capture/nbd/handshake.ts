/**
 * The fixed-newstyle NBD handshake (option haggling), server side.
 *
 * Supported options: NBD_OPT_EXPORT_NAME, NBD_OPT_ABORT, NBD_OPT_LIST, NBD_OPT_INFO and
 * NBD_OPT_GO (replying NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE). Every other option
 * (STARTTLS, STRUCTURED_REPLY, meta contexts, ...) gets NBD_REP_ERR_UNSUP, so clients fall
 * back to simple replies. A protocol violation (bad magic, unknown client flags, an option
 * longer than {@link MAX_OPTION_LENGTH}) ends the connection; an unknown export gets
 * NBD_REP_ERR_UNKNOWN (or, after NBD_OPT_EXPORT_NAME which cannot carry an error, a close).
 */
import type { Socket } from 'node:net';
import type { BlockDevice } from './block-device.js';
import * as C from './constants.js';
import { SocketReader } from './socket-reader.js';

/** Options longer than this are a protocol violation (the longest legitimate one is a few KiB). */
const MAX_OPTION_LENGTH = 64 * 1024;

/** What the handshake needs from the server. */
export interface HandshakeContext {
  /** Resolve an export name ("" is the default export) to a device. */
  lookup(name: string): BlockDevice | undefined;
  /** Names for NBD_OPT_LIST. */
  list(): string[];
  /** Largest READ/WRITE payload. */
  maxPayload: number;
  /** True once the server is shutting down (options then get NBD_REP_ERR_SHUTDOWN). */
  shuttingDown(): boolean;
  /** Reports each option handled (for the server's events). */
  onOption?(option: number, name: string | undefined, reply: number): void;
}

/** The outcome of a successful handshake: transmission starts on `device`. */
export interface Negotiated {
  name: string;
  device: BlockDevice;
  /** Transmission flags as sent to the client. */
  flags: number;
}

/** Why a handshake ended without transmission. */
export class HandshakeError extends Error {
  constructor(
    message: string,
    readonly soft = false,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

/** The transmission flags advertised for a device. */
export function transmissionFlags(device: BlockDevice): number {
  let flags = C.NBD_FLAG_HAS_FLAGS | C.NBD_FLAG_SEND_FLUSH | C.NBD_FLAG_SEND_FUA;
  if (device.readOnly) flags |= C.NBD_FLAG_READ_ONLY;
  else flags |= C.NBD_FLAG_SEND_TRIM | C.NBD_FLAG_SEND_WRITE_ZEROES;
  if (device.canMultiConn) flags |= C.NBD_FLAG_CAN_MULTI_CONN;
  return flags;
}

function preferredBlock(device: BlockDevice): number {
  const b = device.blockSize;
  if (b !== undefined && Number.isInteger(b) && b >= 512 && (b & (b - 1)) === 0) return b;
  return C.DEFAULT_PREFERRED_BLOCK;
}

function optionReply(option: number, type: number, data?: Buffer): Buffer {
  const len = data ? data.length : 0;
  const b = Buffer.allocUnsafe(20 + len);
  b.writeBigUInt64BE(C.NBD_REP_MAGIC, 0);
  b.writeUInt32BE(option >>> 0, 8);
  b.writeUInt32BE(type >>> 0, 12);
  b.writeUInt32BE(len, 16);
  if (data) data.copy(b, 20);
  return b;
}

function write(socket: Socket, b: Buffer): void {
  if (!socket.destroyed) socket.write(b);
}

/**
 * Run the handshake on a freshly accepted socket. Resolves with the negotiated export, or
 * rejects with a {@link HandshakeError} (after a client abort: `soft`) or the reader's
 * PeerGoneError. The caller closes the socket on rejection.
 */
export async function negotiate(socket: Socket, reader: SocketReader, ctx: HandshakeContext): Promise<Negotiated> {
  const hello = Buffer.allocUnsafe(18);
  hello.writeBigUInt64BE(C.NBD_MAGIC, 0);
  hello.writeBigUInt64BE(C.NBD_IHAVEOPT, 8);
  hello.writeUInt16BE(C.NBD_FLAG_FIXED_NEWSTYLE | C.NBD_FLAG_NO_ZEROES, 16);
  write(socket, hello);

  const clientFlags = (await reader.read(4)).readUInt32BE(0);
  if (clientFlags & ~(C.NBD_FLAG_C_FIXED_NEWSTYLE | C.NBD_FLAG_C_NO_ZEROES)) {
    throw new HandshakeError(`unknown client flags 0x${clientFlags.toString(16)}`);
  }
  const noZeroes = (clientFlags & C.NBD_FLAG_C_NO_ZEROES) !== 0;

  for (;;) {
    const hdr = await reader.read(16);
    if (hdr.readBigUInt64BE(0) !== C.NBD_IHAVEOPT) throw new HandshakeError('bad option magic');
    const option = hdr.readUInt32BE(8);
    const length = hdr.readUInt32BE(12);
    if (length > MAX_OPTION_LENGTH) throw new HandshakeError(`option ${option} too long (${length} bytes)`);
    const data = await reader.read(length);
    const reply = (type: number, payload?: Buffer, name?: string): void => {
      write(socket, optionReply(option, type, payload));
      if (type === C.NBD_REP_ACK || type >= 0x80000000) ctx.onOption?.(option, name, type);
    };
    const error = (type: number, message: string, name?: string): void => reply(type, Buffer.from(message, 'utf8'), name);

    if (option === C.NBD_OPT_ABORT) {
      reply(C.NBD_REP_ACK);
      throw new HandshakeError('client aborted the handshake', true);
    }
    if (ctx.shuttingDown()) {
      if (option === C.NBD_OPT_EXPORT_NAME) throw new HandshakeError('server shutting down');
      error(C.NBD_REP_ERR_SHUTDOWN, 'server is shutting down');
      continue;
    }

    switch (option) {
      case C.NBD_OPT_EXPORT_NAME: {
        const name = data.toString('utf8');
        const device = length <= C.NBD_MAX_STRING ? ctx.lookup(name) : undefined;
        if (!device) {
          ctx.onOption?.(option, name, C.NBD_REP_ERR_UNKNOWN);
          throw new HandshakeError(`unknown export ${JSON.stringify(name)}`);
        }
        const flags = transmissionFlags(device);
        const b = Buffer.alloc(noZeroes ? 10 : 134);
        b.writeBigUInt64BE(BigInt(device.size), 0);
        b.writeUInt16BE(flags, 8);
        write(socket, b);
        ctx.onOption?.(option, name, C.NBD_REP_ACK);
        return { name, device, flags };
      }

      case C.NBD_OPT_LIST: {
        if (length !== 0) {
          error(C.NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
          break;
        }
        for (const name of ctx.list()) {
          const n = Buffer.from(name, 'utf8');
          const p = Buffer.allocUnsafe(4 + n.length);
          p.writeUInt32BE(n.length, 0);
          n.copy(p, 4);
          reply(C.NBD_REP_SERVER, p);
        }
        reply(C.NBD_REP_ACK);
        break;
      }

      case C.NBD_OPT_INFO:
      case C.NBD_OPT_GO: {
        if (length < 6) {
          error(C.NBD_REP_ERR_INVALID, 'option data too short');
          break;
        }
        const nameLen = data.readUInt32BE(0);
        if (nameLen > length - 6) {
          error(C.NBD_REP_ERR_INVALID, 'export name length exceeds option length');
          break;
        }
        const name = data.toString('utf8', 4, 4 + nameLen);
        const nInfo = data.readUInt16BE(4 + nameLen);
        if (4 + nameLen + 2 + 2 * nInfo !== length) {
          error(C.NBD_REP_ERR_INVALID, 'information request count does not match option length', name);
          break;
        }
        if (nameLen > C.NBD_MAX_STRING) {
          error(C.NBD_REP_ERR_TOO_BIG, 'export name too long', name);
          break;
        }
        const device = ctx.lookup(name);
        if (!device) {
          error(C.NBD_REP_ERR_UNKNOWN, `unknown export: ${name}`, name);
          break;
        }
        const flags = transmissionFlags(device);
        const exp = Buffer.allocUnsafe(12);
        exp.writeUInt16BE(C.NBD_INFO_EXPORT, 0);
        exp.writeBigUInt64BE(BigInt(device.size), 2);
        exp.writeUInt16BE(flags, 10);
        reply(C.NBD_REP_INFO, exp);
        // Always sent: the constraints are the defaults (min 1) except for the payload cap.
        const bs = Buffer.allocUnsafe(14);
        bs.writeUInt16BE(C.NBD_INFO_BLOCK_SIZE, 0);
        bs.writeUInt32BE(1, 2);
        bs.writeUInt32BE(preferredBlock(device), 6);
        bs.writeUInt32BE(ctx.maxPayload, 10);
        reply(C.NBD_REP_INFO, bs);
        for (let i = 0; i < nInfo; i++) {
          if (data.readUInt16BE(4 + nameLen + 2 + 2 * i) === C.NBD_INFO_NAME) {
            const n = Buffer.from(name, 'utf8');
            const p = Buffer.allocUnsafe(2 + n.length);
            p.writeUInt16BE(C.NBD_INFO_NAME, 0);
            n.copy(p, 2);
            reply(C.NBD_REP_INFO, p);
          }
        }
        reply(C.NBD_REP_ACK, undefined, name);
        if (option === C.NBD_OPT_GO) return { name, device, flags };
        break;
      }

      default:
        error(C.NBD_REP_ERR_UNSUP, `option ${C.OPTION_NAMES[option] ?? option} is not supported`);
        break;
    }
  }
}
