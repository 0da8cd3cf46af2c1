/**
 * The NBD transmission phase, server side: simple replies only.
 *
 * Requests are parsed in arrival order and the device is called in that order. Several
 * requests may be outstanding at once (up to `maxInFlight`, `maxInFlightBytes`), except
 * that a request waits for every outstanding request whose range it overlaps when either
 * of the two writes, and a FLUSH waits for everything before it. A reply is sent only once
 * the device's promise has resolved, so a write is acknowledged only after the device
 * (e.g. the journal) took it.
 */
import type { Socket } from 'node:net';
import { ErrorCodes, isTtjError, TtjError } from '../../errors.js';
import type { BlockDevice } from './block-device.js';
import * as C from './constants.js';
import { PeerGoneError, SocketReader } from './socket-reader.js';

/** One request as handled, for the server's `request` event. */
export interface NbdRequestInfo {
  /** Connection id (unique per server). */
  connection: number;
  /** Export name. */
  export: string;
  /** 'read', 'write', 'flush', 'trim', 'write-zeroes', 'cache', 'disc' or 'unknown:N'. */
  command: string;
  /** Command flags as sent. */
  flags: number;
  offset: number;
  length: number;
  /** NBD error value sent (0 = success). */
  error: number;
  /** Milliseconds from parsing the request to queuing its reply. */
  durationMs: number;
}

/** Settings of one transmission session. */
export interface TransmissionOptions {
  connection: number;
  name: string;
  device: BlockDevice;
  maxPayload: number;
  /** Most requests outstanding at once on this connection. 1 = strictly sequential. */
  maxInFlight: number;
  /** Most payload bytes (read + write) outstanding at once on this connection. */
  maxInFlightBytes: number;
  onRequest?: (info: NbdRequestInfo) => void;
}

/** Map a device failure to the NBD error value sent to the client. */
export function nbdErrnoFor(e: unknown): number {
  if (isTtjError(e)) {
    if (e.code === ErrorCodes.READ_ONLY || e.code === ErrorCodes.PERMISSION) return C.NBD_EPERM;
    if (e.code === ErrorCodes.NO_SPACE) return C.NBD_ENOSPC;
    if (e.code === ErrorCodes.BAD_ARGUMENT) return C.NBD_EINVAL;
    if (e.code === ErrorCodes.NBD_ERROR && e.details.nbdError !== undefined) return e.details.nbdError;
    return C.NBD_EIO;
  }
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'EPERM':
    case 'EACCES':
    case 'EROFS':
    case 'EBADF':
      return C.NBD_EPERM;
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return C.NBD_ENOSPC;
    case 'EINVAL':
      return C.NBD_EINVAL;
    case 'ENOMEM':
      return C.NBD_ENOMEM;
    default:
      return C.NBD_EIO;
  }
}

/** Bytes of request buffers (read replies, write payloads) kept for reuse per connection. */
const REPLY_POOL_BYTES = 32 * 1024 * 1024;

interface Outstanding {
  start: number;
  end: number;
  writes: boolean;
  /** A flush: everything after it waits for it. */
  barrier: boolean;
  bytes: number;
  done: Promise<void>;
}

const FLAGS_ALLOWED: Record<number, number> = {
  [C.NBD_CMD_READ]: C.NBD_CMD_FLAG_FUA,
  [C.NBD_CMD_WRITE]: C.NBD_CMD_FLAG_FUA,
  [C.NBD_CMD_DISC]: C.NBD_CMD_FLAG_FUA,
  [C.NBD_CMD_FLUSH]: C.NBD_CMD_FLAG_FUA,
  [C.NBD_CMD_TRIM]: C.NBD_CMD_FLAG_FUA,
  [C.NBD_CMD_CACHE]: C.NBD_CMD_FLAG_FUA,
  [C.NBD_CMD_WRITE_ZEROES]: C.NBD_CMD_FLAG_FUA | C.NBD_CMD_FLAG_NO_HOLE,
};

/** Why a session ended. */
export type SessionEnd = 'disconnect' | 'peer-gone' | 'protocol-error' | 'shutdown';

/**
 * One connection in transmission phase. `run()` resolves when the session is over (the
 * client sent NBD_CMD_DISC, went away, broke the protocol, or `shutdown()` was called);
 * by then every started device call has settled.
 */
export class TransmissionSession {
  private readonly outstanding = new Set<Outstanding>();
  private outstandingBytes = 0;
  private slotFreed: (() => void) | undefined;
  private stopping = false;
  private stopWake: (() => void) | undefined;
  private corked = false;
  private pool: Buffer[] = [];
  private pooledSize = 0;
  /** True when the native pump received this session's requests (see SocketReader.startPump). */
  receivedNatively = false;
  /** The last protocol error, if the session ended with 'protocol-error'. */
  protocolError: string | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly reader: SocketReader,
    private readonly opts: TransmissionOptions,
  ) {}

  /** Ask the session to stop: no new requests are started; outstanding ones finish. */
  shutdown(): void {
    this.stopping = true;
    this.stopWake?.();
  }

  async run(): Promise<SessionEnd> {
    // The client sends nothing before the handshake's last reply, which Node delivered
    // whole: from here on the native pump may receive the requests.
    this.receivedNatively = this.reader.startPump();
    try {
      return await this.loop();
    } finally {
      await this.drainOutstanding();
      this.reader.stopPump();
    }
  }

  private async loop(): Promise<SessionEnd> {
    const { device, maxPayload } = this.opts;
    const size = device.size;
    for (;;) {
      let hdr = this.reader.tryRead(C.NBD_REQUEST_SIZE);
      if (!hdr) {
        if (this.stopping) return 'shutdown';
        const h = await this.readOrStop(C.NBD_REQUEST_SIZE);
        if (!h) return this.reader.ended ? 'peer-gone' : 'shutdown';
        hdr = h;
      }
      if (hdr.readUInt32BE(0) !== C.NBD_REQUEST_MAGIC) {
        this.protocolError = `bad request magic 0x${hdr.readUInt32BE(0).toString(16)}`;
        return 'protocol-error';
      }
      const t0 = performance.now();
      const flags = hdr.readUInt16BE(4);
      const type = hdr.readUInt16BE(6);
      // The cookie is opaque: keep its 8 bytes as they are.
      const cookieHi = hdr.readUInt32BE(8);
      const cookieLo = hdr.readUInt32BE(12);
      const offHi = hdr.readUInt32BE(16);
      const offset = offHi >= 0x200000 ? Number.POSITIVE_INFINITY : offHi * 0x100000000 + hdr.readUInt32BE(20);
      const length = hdr.readUInt32BE(24);

      let payload: Buffer[] | undefined;
      if (type === C.NBD_CMD_WRITE) {
        if (length > maxPayload) {
          // We cannot skip an unbounded payload: refuse it and hang up (the spec allows a
          // hard disconnect for a payload deemed a denial of service).
          this.reply(cookieHi, cookieLo, C.NBD_EINVAL);
          this.event('write', flags, offset, length, C.NBD_EINVAL, t0);
          this.protocolError = `write payload of ${length} bytes exceeds the ${maxPayload}-byte limit`;
          return 'protocol-error';
        }
        if (this.reader.buffered < length) {
          // A client that goes away mid-payload ends here: nothing reaches the device.
          try {
            await this.reader.waitFor(length);
          } catch (e) {
            if (e instanceof PeerGoneError) return 'peer-gone';
            throw e;
          }
        }
        // The socket chunks as they are (no copy); readers keep them alive until written.
        payload = this.reader.tryReadChunks(length)!;
      }

      if (type === C.NBD_CMD_DISC) {
        this.event('disc', flags, offset, length, 0, t0);
        return 'disconnect';
      }
      // A write refused below gives its payload's buffers back at once.
      if (this.stopping) {
        if (payload) this.releaseAll(payload);
        this.reply(cookieHi, cookieLo, C.NBD_ESHUTDOWN);
        this.event(C.COMMAND_NAMES[type] ?? `unknown:${type}`, flags, offset, length, C.NBD_ESHUTDOWN, t0);
        continue;
      }

      const err = this.validate(type, flags, offset, length, size);
      if (err !== 0) {
        if (payload) this.releaseAll(payload);
        this.reply(cookieHi, cookieLo, err);
        this.event(C.COMMAND_NAMES[type] ?? `unknown:${type}`, flags, offset, length, err, t0);
        continue;
      }
      if (length === 0 && type !== C.NBD_CMD_FLUSH) {
        if (payload) this.releaseAll(payload);
        this.reply(cookieHi, cookieLo, 0);
        this.event(C.COMMAND_NAMES[type], flags, offset, length, 0, t0);
        continue;
      }

      const writes = type === C.NBD_CMD_WRITE || type === C.NBD_CMD_WRITE_ZEROES || type === C.NBD_CMD_TRIM;
      const bytes = type === C.NBD_CMD_READ || type === C.NBD_CMD_WRITE ? length : 0;
      if (type === C.NBD_CMD_FLUSH) await this.drainOutstanding();
      else await this.waitForConflicts(offset, offset + length, writes);
      await this.waitForSlot(bytes);
      if (this.socket.writableNeedDrain && !this.socket.destroyed) await this.waitDrain();

      const fua = (flags & C.NBD_CMD_FLAG_FUA) !== 0;
      let op: Promise<Buffer | undefined>;
      switch (type) {
        case C.NBD_CMD_READ:
          op = this.doRead(offset, length);
          break;
        case C.NBD_CMD_WRITE:
          if (device.writev)
            op = device
              .writev(offset, payload!, { fua })
              .then(() => undefined)
              .finally(() => this.releaseAll(payload!));
          else if (payload!.length === 1) {
            // The payload in one received chunk: given as it is, its buffer reused once written.
            const data = payload![0]!;
            op = device
              .write(offset, data, { fua })
              .then(() => undefined)
              .finally(() => this.reader.release(data));
          } else {
            // One buffer for the payload, reused (like read replies) once the device is done with it.
            const data = this.poolBuffer(length);
            let at = 0;
            for (const c of payload!) at += c.copy(data, at);
            this.releaseAll(payload!);
            op = device.write(offset, data, { fua }).then(() => {
              this.recycle(data);
              return undefined;
            });
          }
          break;
        case C.NBD_CMD_WRITE_ZEROES:
          op = device.writeZeroes(offset, length, { fua, mayTrim: (flags & C.NBD_CMD_FLAG_NO_HOLE) === 0 }).then(() => undefined);
          break;
        case C.NBD_CMD_TRIM:
          op = device.trim(offset, length).then(async () => {
            if (fua) await device.flush();
            return undefined;
          });
          break;
        case C.NBD_CMD_FLUSH:
          op = device.flush().then(() => undefined);
          break;
        case C.NBD_CMD_CACHE:
        default:
          op = Promise.resolve(undefined);
          break;
      }
      const command = C.COMMAND_NAMES[type];
      const entry: Outstanding = {
        start: offset,
        end: offset + length,
        writes,
        barrier: type === C.NBD_CMD_FLUSH,
        bytes,
        done: undefined as unknown as Promise<void>,
      };
      entry.done = op
        .then(
          (data) => {
            if (data) this.send(data, cookieHi, cookieLo);
            else this.reply(cookieHi, cookieLo, 0);
            this.event(command, flags, offset, length, 0, t0);
          },
          (e: unknown) => {
            const errno = nbdErrnoFor(e);
            this.reply(cookieHi, cookieLo, errno);
            this.event(command, flags, offset, length, errno, t0);
          },
        )
        .finally(() => {
          this.outstanding.delete(entry);
          this.outstandingBytes -= entry.bytes;
          const wake = this.slotFreed;
          this.slotFreed = undefined;
          wake?.();
        });
      this.outstanding.add(entry);
      this.outstandingBytes += bytes;
    }
  }

  private releaseAll(views: Buffer[]): void {
    for (const v of views) this.reader.release(v);
  }

  /** 0 if the request may go to the device, else the NBD error to reply. */
  private validate(type: number, flags: number, offset: number, length: number, size: number): number {
    const allowed = FLAGS_ALLOWED[type];
    if (allowed === undefined) return C.NBD_EINVAL; // unknown command, BLOCK_STATUS (no meta context negotiated)
    if (flags & ~allowed) return C.NBD_EINVAL;
    const device = this.opts.device;
    const beyond = offset + length > size || offset > size;
    switch (type) {
      case C.NBD_CMD_READ:
        if (length > this.opts.maxPayload) return C.NBD_EINVAL;
        return beyond ? C.NBD_EINVAL : 0;
      case C.NBD_CMD_WRITE:
        if (device.readOnly) return C.NBD_EPERM;
        return beyond ? C.NBD_ENOSPC : 0;
      case C.NBD_CMD_WRITE_ZEROES:
        if (device.readOnly) return C.NBD_EPERM;
        return beyond ? C.NBD_ENOSPC : 0;
      case C.NBD_CMD_TRIM:
        if (device.readOnly) return C.NBD_EPERM;
        return beyond ? C.NBD_EINVAL : 0;
      case C.NBD_CMD_CACHE:
        return beyond ? C.NBD_EINVAL : 0;
      case C.NBD_CMD_FLUSH:
        return 0;
      default:
        return C.NBD_EINVAL;
    }
  }

  private async doRead(offset: number, length: number): Promise<Buffer> {
    const device = this.opts.device;
    if (device.readInto) {
      const buf = this.poolBuffer(C.NBD_REPLY_SIZE + length);
      await device.readInto(buf, C.NBD_REPLY_SIZE, offset, length);
      return buf;
    }
    const data = await device.read(offset, length);
    if (data.length !== length) throw new TtjError(ErrorCodes.INTERNAL, `device returned ${data.length} bytes for a ${length}-byte read`, { expected: length, actual: data.length });
    const buf = Buffer.allocUnsafe(C.NBD_REPLY_SIZE + length);
    data.copy(buf, C.NBD_REPLY_SIZE);
    return buf;
  }

  /**
   * A buffer for a read reply or a write payload, reused once an earlier one of the
   * same size is done with (a reply handed to the kernel, a payload written by the
   * device): a stream of equal-sized requests allocates (and collects) no new buffers.
   * Reads and writes of one size share the pool; a new size replaces it.
   */
  private poolBuffer(size: number): Buffer {
    if (size === this.pooledSize) {
      const b = this.pool.pop();
      if (b) return b;
    }
    return Buffer.allocUnsafe(size);
  }

  private recycle(buf: Buffer): void {
    if (buf.length !== this.pooledSize) {
      if (buf.length > REPLY_POOL_BYTES / 4) return;
      this.pooledSize = buf.length;
      this.pool = [];
    }
    if ((this.pool.length + 1) * buf.length <= REPLY_POOL_BYTES) this.pool.push(buf);
  }

  /** Send a read reply: `buf` holds the data after a 16-byte gap for the header. */
  private send(buf: Buffer, cookieHi: number, cookieLo: number): void {
    buf.writeUInt32BE(C.NBD_SIMPLE_REPLY_MAGIC, 0);
    buf.writeUInt32BE(0, 4);
    buf.writeUInt32BE(cookieHi, 8);
    buf.writeUInt32BE(cookieLo, 12);
    this.write(buf, (err) => {
      if (!err) this.recycle(buf);
    });
  }

  private reply(cookieHi: number, cookieLo: number, error: number): void {
    const b = Buffer.allocUnsafe(C.NBD_REPLY_SIZE);
    b.writeUInt32BE(C.NBD_SIMPLE_REPLY_MAGIC, 0);
    b.writeUInt32BE(error, 4);
    b.writeUInt32BE(cookieHi, 8);
    b.writeUInt32BE(cookieLo, 12);
    this.write(b);
  }

  /** Replies queued in the same tick go out in one writev; `done` runs once the kernel has the bytes. */
  private write(b: Buffer, done?: (err?: Error | null) => void): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    s.write(b, done);
  }

  private event(command: string, flags: number, offset: number, length: number, error: number, t0: number): void {
    const cb = this.opts.onRequest;
    if (!cb) return;
    cb({
      connection: this.opts.connection,
      export: this.opts.name,
      command,
      flags,
      offset,
      length,
      error,
      durationMs: performance.now() - t0,
    });
  }

  /** Read `n` bytes, or undefined once the peer is gone or (unless `mustFinish`) a shutdown starts. */
  private async readOrStop(n: number, mustFinish = false): Promise<Buffer | undefined> {
    const read = this.reader.read(n).then(
      (b) => b,
      (e: unknown) => {
        if (e instanceof PeerGoneError) return undefined;
        throw e;
      },
    );
    if (mustFinish) return read;
    const stop = new Promise<undefined>((resolve) => {
      this.stopWake = () => resolve(undefined);
    });
    try {
      return await Promise.race([read, stop]);
    } finally {
      this.stopWake = undefined;
    }
  }

  private async waitForConflicts(start: number, end: number, writes: boolean): Promise<void> {
    for (;;) {
      let blocker: Outstanding | undefined;
      for (const o of this.outstanding) {
        if ((writes || o.writes) && o.start < end && start < o.end) {
          blocker = o;
          break;
        }
        if (o.barrier) {
          blocker = o; // a flush in progress: later requests wait for it
          break;
        }
      }
      if (!blocker) return;
      await blocker.done;
    }
  }

  private async waitForSlot(bytes: number): Promise<void> {
    while (this.outstanding.size > 0 && (this.outstanding.size >= this.opts.maxInFlight || this.outstandingBytes + bytes > this.opts.maxInFlightBytes)) {
      await new Promise<void>((resolve) => {
        this.slotFreed = resolve;
      });
    }
  }

  private waitDrain(): Promise<void> {
    if (this.socket.destroyed || this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private async drainOutstanding(): Promise<void> {
    while (this.outstanding.size > 0) {
      await Promise.all([...this.outstanding].map((o) => o.done));
    }
  }
}
