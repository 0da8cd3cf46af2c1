import { connect, type Socket } from 'node:net';
import { ErrorCodes, TtjError, type ErrorCode } from '../errors.js';
import type { KvRange, KvReader } from './kv.js';
import { encodeFrame, frameReader, unpackValues } from './kv-wire.js';

interface Pending {
  resolve(v: { header: Record<string, unknown>; payload: Buffer }): void;
  reject(e: Error): void;
}

/** Read-only client of {@link serveKv}: the index of a journal held by another process. */
export class RemoteKv implements KvReader {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly socketName: string,
  ) {
    frameReader(
      socket,
      (header, payload) => {
        const p = this.pending.get(header.id as number);
        if (!p) return;
        this.pending.delete(header.id as number);
        if (header.ok) p.resolve({ header, payload });
        else p.reject(new TtjError((header.code as ErrorCode | undefined) ?? ErrorCodes.INTERNAL, `journal writer: ${String(header.message)}`, (header.details as object | undefined) ?? {}));
      },
      (e) => this.failAll(e),
    );
    socket.on('error', (e) => this.failAll(e));
    socket.on('close', () => this.failAll(new Error('connection closed')));
  }

  /** Connects; rejects when no process serves this journal's index. */
  static connect(socketName: string, timeoutMs = 2000): Promise<RemoteKv> {
    return new Promise((resolve, reject) => {
      const s = connect(socketName);
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error('timeout connecting to the journal writer'));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        s.removeAllListeners('error');
        resolve(new RemoteKv(s, socketName));
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  private failAll(e: Error): void {
    const err = this.closed ? new TtjError(ErrorCodes.WRITER_GONE, 'the reader connection was closed') : new TtjError(ErrorCodes.WRITER_GONE, `the process holding the journal went away: ${e.message}`, {}, { cause: e });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private request(req: Record<string, unknown>): Promise<{ header: Record<string, unknown>; payload: Buffer }> {
    if (this.socket.destroyed) return Promise.reject(new TtjError(ErrorCodes.WRITER_GONE, 'the process holding the journal went away'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      for (const b of encodeFrame({ ...req, id })) this.socket.write(b);
    });
  }

  /**
   * Asks the holder to give the index up (for a writer about to open it): true when it
   * did (a reader holding it closes it and reads on through the writer), false when it
   * keeps it (a writer).
   */
  async handOver(): Promise<boolean> {
    const { header } = await this.request({ op: 'handOver' });
    return header.handedOver === true;
  }

  /** Asks the writer holding the journal to run `name` with `args` (a prune: {@link WriterRequests}); its result. */
  async run(name: string, args: unknown): Promise<unknown> {
    const { header } = await this.request({ op: 'run', name, args });
    return header.result;
  }

  /** Who holds the index (pid, role, command). */
  async who(): Promise<{ pid: number; role: string; command?: string }> {
    const { header } = await this.request({ op: 'who' });
    return header.who as { pid: number; role: string; command?: string };
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { header, payload } = await this.request({ op: 'get', key });
    return unpackValues(header.lens as number[], payload)[0];
  }

  async getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    const out: (Buffer | undefined)[] = [];
    for (let i = 0; i < keys.length; i += 4096) {
      const { header, payload } = await this.request({ op: 'getMany', keys: keys.slice(i, i + 4096) });
      out.push(...unpackValues(header.lens as number[], payload));
    }
    return out;
  }

  async *range(range: KvRange): AsyncIterable<[string, Buffer]> {
    let r: KvRange = { ...range };
    let left = range.limit && range.limit > 0 ? range.limit : Infinity;
    while (left > 0) {
      const { header, payload } = await this.request({ op: 'range', range: { ...r, limit: Number.isFinite(left) ? left : undefined } });
      const keys = header.keys as string[];
      const values = unpackValues(header.lens as number[], payload);
      if (keys.length === 0) return;
      for (let i = 0; i < keys.length; i++) yield [keys[i]!, values[i]!];
      left -= keys.length;
      const last = keys[keys.length - 1]!;
      r = range.reverse ? { ...r, lt: last, lte: undefined } : { ...r, gt: last, gte: undefined };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.socket.end();
    this.socket.destroy();
  }
}
