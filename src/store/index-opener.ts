/**
 * Opening a journal's LevelDB index: a writer takes the writer lock, opens the index
 * itself (asking a reader that holds it to hand it over) and serves it to readers in
 * other processes; a reader reaches it through {@link ReconnectingKv}.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError, TtjError, toTtjError } from '../errors.js';
import { retryWithBackoff, TryAgain } from '../util/retry-with-backoff.js';
import type { KvReader, KvWriter } from './kv.js';
import { readerSocketName } from './kv-wire.js';
import { serveKv, type WriterRequests } from './kv-server.js';
import { LevelKv } from './level-kv.js';
import { RemoteKv } from './remote-kv.js';
import { ReconnectingKv } from './reconnecting-kv.js';
import { acquireWriterLock, readLockHolder } from './writer-lock.js';

/** Options of {@link openIndex}. */
export interface OpenIndexOptions {
  /** Open as the journal's writer. */
  write: boolean;
  /** Names the writer in the lock and to readers. */
  command: string;
  /** How long a writer waits for a reader to release the index. */
  waitMs: number;
}

/** A journal's index as {@link openIndex} opened it. */
export interface OpenedIndex {
  /** The index; a {@link KvWriter} when opened to write. */
  readonly kv: KvReader;
  readonly writable: boolean;
  /** Stops serving the index to other processes (a writer's; nothing for a reader). */
  stopServing(): Promise<void>;
  /** Releases the writer lock (a writer's; nothing for a reader). */
  releaseLock(): Promise<void>;
  /** What a writer runs for other processes (undefined for a reader). */
  readonly requests?: WriterRequests;
}

/** True when the index of the journal at `dir` was ever made (LevelDB's CURRENT file is there); false for a journal killed between its marker and its index. */
export function indexMade(dir: string): boolean {
  return existsSync(join(dir, 'index', 'CURRENT'));
}

/**
 * Opens the index of the journal at `dir` (whose marker is checked already).
 * A writer that cannot open it releases the writer lock again.
 * @throws TtjError LOCKED (another writer, or a reader that does not let go in time).
 */
export async function openIndex(dir: string, opts: OpenIndexOptions): Promise<OpenedIndex> {
  const levelPath = join(dir, 'index');
  const none = async (): Promise<void> => undefined;
  if (!opts.write) return { kv: new ReconnectingKv(levelPath, dir), writable: false, stopServing: none, releaseLock: none };
  const lock = await acquireWriterLock(dir, opts.command);
  let kv: KvWriter;
  try {
    kv = await openIndexForWriting(levelPath, dir, opts.waitMs);
  } catch (e) {
    await lock.release();
    throw e;
  }
  let stopServing = none;
  const requests: WriterRequests = {};
  try {
    stopServing = (await serveKv(kv, readerSocketName(dir), { role: 'writer', command: opts.command }, undefined, requests)).close;
  } catch {
    /* readers then wait for this writer to finish */
  }
  return { kv, writable: true, stopServing, releaseLock: lock.release, requests };
}

/** Asks the process holding a journal's index to hand it over; true when it did. */
async function askHandOver(socketName: string): Promise<boolean> {
  try {
    const r = await RemoteKv.connect(socketName, 500);
    try {
      return await r.handOver();
    } finally {
      await r.close();
    }
  } catch {
    return false; // nobody answers (a reader that cannot serve, an older ttj): wait for it
  }
}

/** Opens the index for writing, asking a reader that holds it to hand it over, else waiting. */
async function openIndexForWriting(levelPath: string, dir: string, waitMs: number): Promise<LevelKv> {
  let locked: unknown;
  return retryWithBackoff(
    async () => {
      try {
        return await LevelKv.open(levelPath, { create: true });
      } catch (e) {
        if (!isTtjError(e, ErrorCodes.LOCKED)) throw toTtjError(e, { path: dir });
        locked = e;
      }
      // A reader holding the index gives it up when asked (it reads on through us);
      // it closes the index right after answering.
      return new TryAgain((await askHandOver(readerSocketName(dir))) ? 20 : undefined);
    },
    { waitMs, maxDelayMs: 500, onTimeout: async () => stillLocked(dir, locked) },
  );
}

/** @throws TtjError LOCKED naming who holds the index of the journal at `dir`. */
async function stillLocked(dir: string, cause: unknown): Promise<never> {
  let who = 'another process';
  try {
    const r = await RemoteKv.connect(readerSocketName(dir), 500);
    const w = await r.who();
    await r.close();
    who = `${w.command ?? w.role} (pid ${w.pid})`;
  } catch {
    const h = await readLockHolder(dir);
    if (h) who = `${h.command} (pid ${h.pid})`;
  }
  throw new TtjError(ErrorCodes.LOCKED, `the journal ${dir} is held by ${who}`, { path: dir }, { cause });
}
