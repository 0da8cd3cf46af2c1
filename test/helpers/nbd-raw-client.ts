/** A hand-built NBD client: raw protocol messages, for malformed and edge-case traffic the real clients never send. */
import * as net from 'node:net';
import * as C from '../../src/capture/nbd/constants.js';
import { SocketReader } from '../../src/capture/nbd/socket-reader.js';

export type Target = { path: string } | { host: string; port: number };

export interface Reply {
  error: number;
  cookie: bigint;
  data?: Buffer;
}

/** A hand-built NBD client for malformed and edge-case traffic. */
export class RawClient {
  readonly reader: SocketReader;
  private cookie = 1n;
  size = 0;
  flags = 0;

  private constructor(readonly socket: net.Socket) {
    this.reader = new SocketReader(socket);
    socket.on('error', () => undefined);
  }

  static async open(target: Target): Promise<RawClient> {
    const socket = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Read the server greeting and send client flags. */
  async greet(clientFlags = C.NBD_FLAG_C_FIXED_NEWSTYLE | C.NBD_FLAG_C_NO_ZEROES): Promise<number> {
    const hello = await this.reader.read(18);
    if (hello.readBigUInt64BE(0) !== C.NBD_MAGIC || hello.readBigUInt64BE(8) !== C.NBD_IHAVEOPT) throw new Error('bad greeting');
    const b = Buffer.alloc(4);
    b.writeUInt32BE(clientFlags >>> 0);
    this.socket.write(b);
    return hello.readUInt16BE(16);
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(C.NBD_IHAVEOPT, 0);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.socket.write(Buffer.concat([h, data]));
  }

  async optionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = await this.reader.read(20);
    if (h.readBigUInt64BE(0) !== C.NBD_REP_MAGIC) throw new Error('bad option reply magic');
    const data = await this.reader.read(h.readUInt32BE(16));
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data };
  }

  /** NBD_OPT_GO / NBD_OPT_INFO; returns the final reply type and the infos. */
  async go(name: string, option = C.NBD_OPT_GO, infos: number[] = [C.NBD_INFO_BLOCK_SIZE]): Promise<{ type: number; infos: Buffer[] }> {
    const n = Buffer.from(name);
    const d = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
    d.writeUInt32BE(n.length, 0);
    n.copy(d, 4);
    d.writeUInt16BE(infos.length, 4 + n.length);
    infos.forEach((t, i) => d.writeUInt16BE(t, 6 + n.length + 2 * i));
    this.sendOption(option, d);
    const got: Buffer[] = [];
    for (;;) {
      const r = await this.optionReply();
      if (r.type === C.NBD_REP_INFO) {
        got.push(r.data);
        if (r.data.readUInt16BE(0) === C.NBD_INFO_EXPORT) {
          this.size = Number(r.data.readBigUInt64BE(2));
          this.flags = r.data.readUInt16BE(10);
        }
        continue;
      }
      return { type: r.type, infos: got };
    }
  }

  /** Greet and enter transmission on `name`. */
  static async connect(target: Target, name: string): Promise<RawClient> {
    const c = await RawClient.open(target);
    await c.greet();
    const r = await c.go(name);
    if (r.type !== C.NBD_REP_ACK) throw new Error(`NBD_OPT_GO failed: 0x${r.type.toString(16)}`);
    return c;
  }

  /** Send one request (no waiting). Offset may be a bigint for absurd values. */
  send(type: number, flags: number, offset: number | bigint, length: number, payload?: Buffer): bigint {
    const cookie = this.cookie++;
    const h = Buffer.alloc(28);
    h.writeUInt32BE(C.NBD_REQUEST_MAGIC, 0);
    h.writeUInt16BE(flags, 4);
    h.writeUInt16BE(type, 6);
    h.writeBigUInt64BE(cookie, 8);
    h.writeBigUInt64BE(BigInt(offset), 16);
    h.writeUInt32BE(length >>> 0, 24);
    this.socket.write(payload ? Buffer.concat([h, payload]) : h);
    return cookie;
  }

  /** Read one simple reply; `readLength` bytes of data follow a successful read reply. */
  async reply(readLength = 0): Promise<Reply> {
    const h = await this.reader.read(16);
    if (h.readUInt32BE(0) !== C.NBD_SIMPLE_REPLY_MAGIC) throw new Error('bad reply magic');
    const error = h.readUInt32BE(4);
    const cookie = h.readBigUInt64BE(8);
    const data = error === 0 && readLength > 0 ? Buffer.from(await this.reader.read(readLength)) : undefined;
    return { error, cookie, data };
  }

  async request(type: number, flags: number, offset: number | bigint, length: number, payload?: Buffer): Promise<Reply> {
    const cookie = this.send(type, flags, offset, length, payload);
    const r = await this.reply(type === C.NBD_CMD_READ ? length : 0);
    if (r.cookie !== cookie) throw new Error(`cookie mismatch ${r.cookie} != ${cookie}`);
    return r;
  }

  /** Resolves when the server has closed the connection. */
  closed(timeoutMs = 5000): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.socket.closed || this.reader.ended) return resolve(true);
      const t = setTimeout(() => resolve(false), timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.socket.once('close', done);
      this.socket.once('end', done);
      this.socket.resume();
    });
  }

  async disconnect(): Promise<void> {
    this.send(C.NBD_CMD_DISC, 0, 0, 0);
    this.socket.end();
    await this.closed();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
