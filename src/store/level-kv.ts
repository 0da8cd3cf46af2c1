import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Level } from 'level';
import { ErrorCodes, isTtjError, TtjError, toTtjError } from '../errors.js';
import { copyIndex, type IndexCopy } from './index-copy.js';
import { DIR_MODE, withUmaskFor } from './file-modes.js';
import type { KvOp, KvRange, KvWriter } from './kv.js';

/** Errors that mean "this process cannot write here", not "the index is damaged". */
const CANNOT_WRITE: readonly string[] = [ErrorCodes.READ_ONLY, ErrorCodes.PERMISSION, ErrorCodes.NO_SPACE];

/**
 * True when opening an index failed only because this process cannot write where it
 * is (a read-only or full file system, another user's journal): it can still be read
 * through a private copy ({@link LevelKv.openCopy}).
 */
export function cannotWrite(e: unknown): boolean {
  return isTtjError(e) && CANNOT_WRITE.includes(e.code);
}

/** One open LevelDB: in place, or a private copy (then removed at close). */
interface Open {
  db: Level<string, Buffer>;
  copy?: IndexCopy;
}

/**
 * The LevelDB indexes this process has open, by absolute path. LevelDB's file lock is a
 * POSIX (fcntl) lock, which belongs to the process: a second open of the same index in
 * this process fails, but closing the descriptor it opened to try releases the lock the
 * first open holds, and another process could then open the index beside it. So a second
 * open in one process is refused here, before LevelDB is asked.
 */
const openInThisProcess = new Map<string, Level<string, Buffer>>();

async function openLevel(path: string, create: boolean): Promise<Level<string, Buffer>> {
  const key = resolve(path);
  if (openInThisProcess.has(key)) throw new TtjError(ErrorCodes.LOCKED, `the journal index ${path} is open already (in this process)`, { path });
  const db = new Level<string, Buffer>(path, {
    keyEncoding: 'utf8',
    valueEncoding: 'buffer',
    createIfMissing: create,
    errorIfExists: false,
  });
  // The files LevelDB makes as it opens (LOCK, CURRENT, manifest, log) get no more
  // permissions than their directory gives (0600 in a new journal's 0700 index).
  try {
    await withUmaskFor(path, () => db.open({ passive: false }));
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new TtjError(ErrorCodes.LOCKED, `the journal index ${path} is open in another process`, { path }, { cause: e });
    }
    throw toTtjError(e, { path, what: 'opening the journal index' });
  }
  openInThisProcess.set(key, db);
  return db;
}

async function openCopyOf(path: string): Promise<Open> {
  // A writer may change the index while it is copied (a new manifest, a compaction):
  // a copy that does not open is taken again.
  for (let attempt = 0; ; attempt++) {
    let copy: IndexCopy;
    try {
      copy = await copyIndex(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
      throw toTtjError(e, { path, what: 'copying the journal index to read it' });
    }
    try {
      return { db: await openLevel(copy.path, false), copy };
    } catch (e) {
      await copy.remove();
      if (attempt >= 3) throw e;
    }
  }
}

async function closeOpen(o: Open): Promise<void> {
  try {
    await o.db.close();
  } finally {
    const key = resolve(o.db.location);
    if (openInThisProcess.get(key) === o.db) openInThisProcess.delete(key);
    await o.copy?.remove();
  }
}

/**
 * The LevelDB index of a journal, through the `level` package.
 *
 * A write that fails (a full disk) may leave LevelDB's write-ahead log with part of a
 * record, after which LevelDB must not append to it: the index is closed and opened
 * again at once, so that it holds exactly what its files hold. Where it cannot be opened
 * again in place (the disk is still full), it is read through a private copy until the
 * next write opens it in place again.
 */
export class LevelKv implements KvWriter {
  /** Bumped each time the open LevelDB is replaced (reads in flight then retry on the new one). */
  private generation = 0;
  /** Resolves once a replacement is done. */
  private ready: Promise<void> = Promise.resolve();
  /** Set while reading a private copy although opened for writing (the next write reopens in place): why. */
  private reopen: TtjError | undefined;

  private constructor(
    private current: Open,
    readonly path: string,
    private readonly writable: boolean,
  ) {}

  /**
   * Opens (or creates, with `create`) the LevelDB at `path`, in place.
   * @throws TtjError LOCKED when another process has it open; READ_ONLY, PERMISSION or
   *   NO_SPACE when this process cannot write it ({@link cannotWrite}).
   */
  static async open(path: string, opts: { create?: boolean } = {}): Promise<LevelKv> {
    // Only the owner may enter the index (LevelDB makes its later files with the umask).
    if (opts.create) await mkdir(path, { recursive: true, mode: DIR_MODE }).catch((e: unknown) => Promise.reject(toTtjError(e, { path, what: 'creating the journal index' })));
    return new LevelKv({ db: await openLevel(path, opts.create ?? false) }, path, true);
  }

  /**
   * Opens a private copy of the LevelDB at `path` for reading ({@link copyIndex}): for a
   * process that cannot write the index in place. Writes are refused (READ_ONLY).
   */
  static async openCopy(path: string): Promise<LevelKv> {
    return new LevelKv(await openCopyOf(path), path, false);
  }

  /** True while this index is a private copy (read-only). */
  get isCopy(): boolean {
    return this.current.copy !== undefined;
  }

  /** Runs `fn` on the open LevelDB, again on the new one when it is replaced meanwhile. */
  private async use<T>(fn: (db: Level<string, Buffer>) => Promise<T>): Promise<T> {
    for (;;) {
      await this.ready;
      const gen = this.generation;
      try {
        return await fn(this.current.db);
      } catch (e) {
        if (gen === this.generation) throw toTtjError(e, { path: this.path });
      }
    }
  }

  /**
   * Replaces the open LevelDB by a new one of the same files: in place when it can be
   * opened there, else (for reading) a private copy.
   */
  private replace(): Promise<void> {
    const run = (async () => {
      this.generation++;
      await closeOpen(this.current).catch(() => undefined);
      try {
        this.current = { db: await openLevel(this.path, false) };
        this.reopen = undefined;
      } catch (e) {
        if (!cannotWrite(e)) throw e;
        this.current = await openCopyOf(this.path);
        this.reopen = e as TtjError;
      }
    })();
    this.ready = run.catch(() => undefined);
    return run;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.use(async (db) => (await db.get(key)) ?? undefined);
  }

  async getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    return this.use(async (db) => (await db.getMany(keys)).map((v) => v ?? undefined));
  }

  async *range(range: KvRange): AsyncIterable<[string, Buffer]> {
    // abstract-level treats a present-but-undefined bound as a bound: drop them.
    let r: KvRange = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined));
    let left = range.limit && range.limit > 0 ? range.limit : -1;
    for (;;) {
      await this.ready;
      const gen = this.generation;
      const it = this.current.db.iterator({ ...r, limit: left });
      try {
        for (;;) {
          const entries = await it.nextv(1024);
          if (entries.length === 0) return;
          for (const entry of entries) {
            yield entry;
            if (left > 0) left--;
            r = range.reverse ? { ...r, lt: entry[0], lte: undefined } : { ...r, gt: entry[0], gte: undefined };
          }
          if (left === 0) return;
        }
      } catch (e) {
        // Replaced meanwhile (a failed write reopened the index): on after the last key.
        if (gen === this.generation) throw toTtjError(e, { path: this.path });
        r = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
      } finally {
        await it.close().catch(() => undefined);
      }
    }
  }

  /**
   * One atomic LevelDB write. Through a chained batch: for the thousands of small puts
   * of a group commit (a location per disk block) it costs about a third of the
   * array form's CPU, which copies and validates every operation object first.
   * When it fails, the index is opened again before this rejects (see the class).
   * @throws TtjError NO_SPACE (nothing of the batch is kept), READ_ONLY for a copy that
   *   still cannot be opened in place.
   */
  async batch(ops: KvOp[], opts: { sync?: boolean } = {}): Promise<void> {
    if (!this.writable) throw new TtjError(ErrorCodes.READ_ONLY, `the journal index ${this.path} is a read-only copy`, { path: this.path });
    await this.ready;
    if (this.reopen) await this.replace();
    if (this.reopen) throw this.reopen;
    const batch = this.current.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      await batch.write({ sync: opts.sync ?? true });
    } catch (e) {
      await batch.close().catch(() => undefined);
      const err = toTtjError(e, { path: this.path, what: 'writing the journal index' });
      await this.replace().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.ready;
    await closeOpen(this.current);
  }
}
