import { hostname } from 'node:os';
import { ErrorCodes, isTtjError, TtjError } from '../errors.js';
import type { KvRange, KvReader } from './kv.js';
import { cannotWrite, LevelKv } from './level-kv.js';
import { RemoteKv } from './remote-kv.js';
import { readerSocketName } from './kv-wire.js';
import { serveKv } from './kv-server.js';
import { readLockHolder } from './writer-lock.js';
import { retryWithBackoff, TryAgain } from '../util/retry-with-backoff.js';

/**
 * A reader's view of a journal index that another process may hold. It opens
 * LevelDB directly when it can (and then serves it to other readers), or talks to
 * the holder over its socket; when the holder goes away it reconnects, resuming a
 * range read after the last key it returned. Safe because the journal is append-only.
 *
 * A process that cannot write the index where it is (a read-only or full file system,
 * another user's journal) reads it through the process that holds it, else through a
 * private copy ({@link LevelKv.openCopy}), a snapshot of the index as it opened.
 *
 * A writer comes first: while a live process holds the journal's writer lock, a
 * reader does not open LevelDB itself but waits for the writer to serve it; and a
 * reader holding LevelDB gives it up when a writer asks (its reads in progress
 * continue through the writer), so that a long-lived reader (`ttj nbd --at ...
 * --read-only`) never keeps a writer out.
 */
export class ReconnectingKv implements KvReader {
  private inner: KvReader | undefined;
  private stopServing: (() => Promise<void>) | undefined;
  /** The connection being made: reads that start meanwhile wait for it rather than make another. */
  private connecting: Promise<KvReader> | undefined;
  private closed = false;

  constructor(
    private readonly levelPath: string,
    private readonly journalDir: string,
    private readonly waitMs = 15000,
  ) {}

  /**
   * The index, connected once for all the reads waiting: two connections made at once would
   * leave one that a writer's hand-over request does not close (it would wait in vain).
   */
  private connect(): Promise<KvReader> {
    if (this.inner) return Promise.resolve(this.inner);
    // A read still running when the journal was closed must not open the index again (and serve it, keeping the process alive).
    if (this.closed) return Promise.reject(this.closedError());
    return (this.connecting ??= this.connectNow().finally(() => (this.connecting = undefined)));
  }

  private closedError(): TtjError {
    return new TtjError(ErrorCodes.INTERNAL, `the index of the journal ${this.journalDir} was closed`, { path: this.journalDir });
  }

  private async connectNow(): Promise<KvReader> {
    if (this.inner) return this.inner;
    const socket = readerSocketName(this.journalDir);
    let last: unknown;
    return retryWithBackoff(
      async () => {
        if (this.closed) throw this.closedError();
        // A writer on its way (a live process on this host holds the writer lock) opens
        // the index next and serves it: wait for it rather than take the index first.
        const writer = await readLockHolder(this.journalDir);
        if (!writer || writer.host !== hostname() || writer.pid === process.pid) {
          try {
            const kv = await LevelKv.open(this.levelPath);
            try {
              const server = await serveKv(kv, socket, { role: 'reader' }, () => void this.handOver(kv));
              this.stopServing = server.close;
            } catch {
              /* another process serves already; fine */
            }
            this.inner = kv;
            return kv;
          } catch (e) {
            if (!isTtjError(e, ErrorCodes.LOCKED) && !cannotWrite(e)) throw e;
            last = e;
          }
        }
        try {
          this.inner = await RemoteKv.connect(socket);
          return this.inner;
        } catch (e) {
          // Nobody serves it, and this process cannot open it in place: a private copy.
          if (cannotWrite(last)) return (this.inner = await LevelKv.openCopy(this.levelPath));
          last = e;
        }
        return new TryAgain();
      },
      {
        waitMs: this.waitMs,
        maxDelayMs: 250,
        onTimeout: () => {
          throw new TtjError(ErrorCodes.LOCKED, `the journal ${this.journalDir} is held by another process that does not answer`, { path: this.journalDir }, { cause: last });
        },
      },
    );
  }

  /**
   * Gives the index up to a writer that asked: stops serving it (other readers
   * reconnect) and closes it; operations running on it fail and are retried through
   * the writer.
   */
  private async handOver(kv: KvReader): Promise<void> {
    if (this.inner !== kv) return;
    this.inner = undefined;
    const stop = this.stopServing;
    this.stopServing = undefined;
    await stop?.().catch(() => undefined);
    await kv.close().catch(() => undefined);
  }

  /**
   * After `kv` failed with `e` on try `attempt`: true to try again, when the holder went
   * away (it is dropped, so the next try reconnects) or this process handed its index
   * over meanwhile.
   */
  private async retryAfter(kv: KvReader, e: unknown, attempt: number): Promise<boolean> {
    const handedOver = kv !== this.inner;
    if (attempt >= 5 || (!handedOver && !isTtjError(e, ErrorCodes.WRITER_GONE))) return false;
    if (!handedOver) await this.drop();
    return true;
  }

  private async drop(): Promise<void> {
    const i = this.inner;
    this.inner = undefined;
    if (i) await i.close().catch(() => undefined);
  }

  private async retry<T>(fn: (kv: KvReader) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const kv = await this.connect();
      try {
        return await fn(kv);
      } catch (e) {
        if (!(await this.retryAfter(kv, e, attempt))) throw e;
      }
    }
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.retry((kv) => kv.get(key));
  }

  getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    return this.retry((kv) => kv.getMany(keys));
  }

  async *range(range: KvRange): AsyncIterable<[string, Buffer]> {
    let r = { ...range };
    let left = range.limit && range.limit > 0 ? range.limit : Infinity;
    for (let attempt = 0; ; attempt++) {
      const kv = await this.connect();
      try {
        for await (const [k, v] of kv.range({ ...r, limit: Number.isFinite(left) ? left : undefined })) {
          yield [k, v];
          left--;
          r = range.reverse ? { ...r, lt: k, lte: undefined } : { ...r, gt: k, gte: undefined };
        }
        return;
      } catch (e) {
        if (!(await this.retryAfter(kv, e, attempt))) throw e;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    // A connection being made when closing is closed once made.
    await this.connecting?.catch(() => undefined);
    if (this.stopServing) await this.stopServing();
    await this.drop();
  }
}
