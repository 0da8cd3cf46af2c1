/**
 * The embedded store: a journal directory with a LevelDB index and append-only
 * pack files.
 *
 * ```
 * J/ttj-journal.json   marker: {"format":"ttj-journal","version":1} (2: encrypted)
 * J/ttj-key.json       an encrypted journal's key file (./cipher-keys.ts)
 * J/index/             LevelDB: events, blob locations, head, secondary index
 * J/packs/NNNNNNNN.pack blob bytes in zstd-compressed blocks
 * J/writer.lock        the writer's pid, host and command while one writes
 * ```
 *
 * {@link LocalStore} puts together its parts: the journal directory and marker
 * (journal-dir.ts), the index opened as writer or reader (index-opener.ts), the blob
 * locations (blob-index.ts), blob reads (blob-reader.ts) and the writer's appends
 * (store-appender.ts); it reads events and the secondary index itself.
 */
import { join } from 'node:path';
import { ErrorCodes, TtjError } from '../errors.js';
import type { KvWriter } from './kv.js';
import { PackReader, PackWriter } from './pack-files.js';
import { allowPatches, mayHavePatches, prepareJournalDir, readKeyFile } from './journal-dir.js';
import type { JournalCipher } from './cipher.js';
import { indexMade, openIndex, type OpenedIndex } from './index-opener.js';
import { eventKey, indexKey, INDEX_KEYS, lastStoredEvent, readHead, readStats } from './index-layout.js';
import { BlobIndex } from './blob-index.js';
import { BlobReader } from './blob-reader.js';
import { StoreAppender } from './store-appender.js';
import { watchHead, type WatchHeadOptions } from './head-watch.js';
import { compactLocal, removeLocalBlobs, type CompactionParts } from './pack-compaction.js';
import type { AppendBatch, AppendResult, CompactResult, IndexEntry, IndexRange, JournalStore, BlobTarget, ReadIntoOptions, RemoveBlobsOptions, RemovedBlobs, StoreHead, StoreStats, StoredEvent } from './store.js';

/** Options of {@link LocalStore.open}. */
export interface LocalStoreOptions {
  /** Open for writing (takes the writer lock). Default false. */
  write?: boolean;
  /** Create the journal directory when missing (implies write). Default false. */
  create?: boolean;
  /** Names the writer in the lock (shown to a second writer). Default "ttj". */
  command?: string;
  /** zstd level for blob blocks. Default 1. */
  compressionLevel?: number;
  /** How long a writer waits for a reader to release the index. Default 30000 ms. */
  waitMs?: number;
  /** Open a damaged index to rebuild it (`ttj repair`): the head is not checked against the events. Default false. */
  repair?: boolean;
  /**
   * How blob bytes meet the page cache, named after QEMU's cache modes: `none` writes
   * and reads stored blocks with direct I/O (O_DIRECT) where the file system allows it,
   * `writeback` goes through the page cache. Default `none`, or the `TTJ_CACHE`
   * environment variable.
   */
  cache?: CacheMode;
  /**
   * An encrypted journal's cipher (./cipher.ts; `openStore` unlocks it from the key
   * file): blocks are sealed and opened with it. Required exactly for encrypted journals.
   */
  cipher?: JournalCipher;
  /** With `create`: make the journal encrypted, with this key file (./cipher-keys.ts). */
  keyFile?: Buffer;
}

/** Pack-file cache modes (see {@link LocalStoreOptions.cache}). */
export type CacheMode = 'none' | 'writeback';

/**
 * The cache mode to use: `mode`, else `TTJ_CACHE`, else `none`.
 * @throws TtjError BAD_ARGUMENT for another value.
 */
function resolveCacheMode(mode?: string): CacheMode {
  const m = mode ?? process.env.TTJ_CACHE ?? 'none';
  if (m !== 'none' && m !== 'writeback') throw new TtjError(ErrorCodes.BAD_ARGUMENT, `cache mode must be none or writeback, not ${JSON.stringify(m)}`, { mode: m });
  return m;
}

/**
 * An encrypted journal is opened with its cipher, a plain one without.
 * @throws TtjError PASSWORD_REQUIRED for an encrypted journal without a cipher; INTERNAL for a plain one with one.
 */
function checkCipher(dir: string, cipher: boolean, encrypted: boolean): void {
  if (encrypted && !cipher) throw new TtjError(ErrorCodes.PASSWORD_REQUIRED, `${dir} is an encrypted journal: give its password (openStore unlocks its key)`, { path: dir });
  if (cipher && !encrypted) throw new TtjError(ErrorCodes.INTERNAL, `${dir} is not encrypted, and a cipher was given`, { path: dir });
}

/** The embedded store: a journal directory with a LevelDB index and append-only pack files (see the module comment); opened by {@link LocalStore.open}. */
export class LocalStore implements JournalStore {
  readonly location: string;
  readonly writable: boolean;
  private readonly blobs: BlobIndex;
  private readonly reader: BlobReader;
  private readonly packs: PackReader;
  /** The writer's appends (undefined when open read-only). */
  private readonly appender: StoreAppender | undefined;
  private closed = false;

  private constructor(
    dir: string,
    private readonly index: OpenedIndex,
    direct: boolean,
    compressionLevel: number,
    cipher: JournalCipher | undefined,
  ) {
    this.location = dir;
    this.writable = index.writable;
    this.blobs = new BlobIndex(index.kv, index.writable);
    this.packs = new PackReader(join(dir, 'packs'), undefined, { direct, cipher });
    this.reader = new BlobReader(this.blobs, this.packs, cipher);
    if (index.writable) this.appender = new StoreAppender(dir, index.kv as KvWriter, this.blobs, new PackWriter(join(dir, 'packs'), compressionLevel, { direct, cipher }), () => allowPatches(dir));
  }

  private get kv() {
    return this.index.kv;
  }

  /**
   * Opens the journal at `dir`.
   * @throws TtjError NOT_A_JOURNAL, JOURNAL_EXISTS (create on an existing non-empty dir that is not a journal), LOCKED.
   */
  static async open(dir: string, opts: LocalStoreOptions = {}): Promise<LocalStore> {
    const write = !!(opts.write || opts.create);
    const direct = resolveCacheMode(opts.cache) === 'none';
    /** Removes the journal this open created, when the open fails after all. */
    const undoCreate = await prepareJournalDir(dir, !!opts.create, opts.keyFile);
    if (!undoCreate) checkCipher(dir, !!opts.cipher, !!(await readKeyFile(dir)));
    let index: OpenedIndex;
    try {
      index = await openIndex(dir, { write, command: opts.command ?? 'ttj', waitMs: opts.waitMs ?? 30000 });
    } catch (e) {
      await undoCreate?.().catch(() => undefined);
      throw e;
    }
    const store = new LocalStore(dir, index, direct, opts.compressionLevel ?? 1, opts.cipher);
    if (opts.repair) return store;
    try {
      await store.checkHead();
      return store;
    } catch (e) {
      await store.close().catch(() => undefined);
      await undoCreate?.().catch(() => undefined);
      if (!write && !indexMade(dir)) {
        throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${dir} has no journal index yet (its making was interrupted; an append completes it)`, { path: dir }, { cause: e });
      }
      throw e;
    }
  }

  /**
   * The head entry must name the last stored event: an append builds on it, so a head
   * that is lost or behind would make the next append overwrite history.
   * The last event is read before the head: a reader beside a live writer then never
   * sees a head older than the events (a head ahead of them is a later append).
   * @throws TtjError CORRUPT_STORE.
   */
  private async checkHead(): Promise<void> {
    const last = await this.lastStoredEvent();
    const head = await this.head();
    const sound = !last ? !head || !this.writable : head !== undefined && (this.writable ? head.seq === last.seq && head.hash.equals(last.hash) : head.seq >= last.seq);
    if (sound) return;
    const says = head ? `names event ${head.seq}` : 'is missing';
    const has = last ? `events 0..${last.seq} are stored` : 'no event is stored';
    throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: its head entry ${says} but ${has} (ttj repair rebuilds the index from the events)`, {
      path: this.location,
      expected: last ? last.seq : -1,
      actual: head ? head.seq : -1,
    });
  }

  head(): Promise<StoreHead | undefined> {
    // The one writer knows the head (nobody else appends); readers ask the index.
    return this.appender ? this.appender.head() : readHead(this.kv);
  }

  lastStoredEvent(): Promise<StoreHead | undefined> {
    return lastStoredEvent(this.kv);
  }

  async append(batch: AppendBatch): Promise<AppendResult> {
    return this.writing().append(batch);
  }

  async *readEventBatches(from: number, to?: number, batchSize = 512): AsyncIterable<StoredEvent[]> {
    if (to === undefined) {
      const h = await this.head();
      to = h ? h.seq + 1 : 0;
    }
    if (from >= to) return;
    let batch: StoredEvent[] = [];
    let expect = from;
    for await (const [k, v] of this.kv.range({ gte: eventKey(from), lt: eventKey(to) })) {
      const seq = parseInt(k.slice(2), 16);
      if (seq !== expect) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${expect} is missing from the store`, { seq: expect });
      expect++;
      batch.push({ seq, bytes: v });
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
    if (expect !== to) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${expect} is missing from the store`, { seq: expect });
  }

  async *readEvents(from: number, to?: number): AsyncIterable<StoredEvent> {
    for await (const b of this.readEventBatches(from, to)) yield* b;
  }

  hasBlobs(addrs: Buffer[]): Promise<boolean[]> {
    return this.blobs.hasBlobs(addrs);
  }

  prefetchBlobs(addrs: Buffer[]): Promise<void> {
    return this.blobs.prefetchBlobs(addrs);
  }

  blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]> {
    return this.blobs.blobSizes(addrs);
  }

  serveRequests(handler: (name: string, args: unknown) => Promise<unknown>): void {
    if (this.index.requests) this.index.requests.run = handler;
  }

  removeBlobs(addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs> {
    return removeLocalBlobs(this.compaction(), addrs, opts);
  }

  compact(): Promise<CompactResult> {
    return compactLocal(this.compaction());
  }

  /** @throws TtjError READ_ONLY when open read-only. */
  private compaction(): CompactionParts {
    const appender = this.writing();
    const dir = this.location;
    return { packsDir: join(dir, 'packs'), kv: this.kv as KvWriter, blobs: this.blobs, reader: this.reader, packs: this.packs, appender, mayHavePatches: () => mayHavePatches(dir) };
  }

  async rebuildIndex(head: StoreHead, index: IndexEntry[]): Promise<void> {
    return this.writing().rebuildIndex(head, index);
  }

  async sync(): Promise<void> {
    await this.appender?.sync();
  }

  /** @throws TtjError READ_ONLY when open read-only. */
  private writing(): StoreAppender {
    if (!this.appender) throw new TtjError(ErrorCodes.READ_ONLY, `the journal ${this.location} is open read-only`);
    return this.appender;
  }

  getBlobs(addrs: Buffer[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    return this.reader.getBlobs(addrs, opts);
  }

  readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts: { verify?: boolean } = {}): Promise<void> {
    return this.reader.readBlobs(addrs, onBlob, opts);
  }

  readBlobsInto(addrs: Buffer[], target: BlobTarget, at: number[], opts?: ReadIntoOptions): Promise<void> {
    return this.reader.readBlobsInto(addrs, target, at, opts);
  }

  listBlobs(): AsyncIterable<Buffer> {
    return this.blobs.listBlobs();
  }

  async readAllBlobs(onBlob: (addr: Buffer, data: Buffer) => void): Promise<void> {
    const { addrs, locs } = await this.blobs.listLocated();
    await this.reader.readAllLocated(addrs, locs, onBlob);
  }

  watchHead(after: number, opts: WatchHeadOptions = {}): AsyncIterable<StoreHead> {
    return watchHead(
      join(this.location, 'index'),
      () => this.head(),
      after,
      () => this.closed,
      opts,
    );
  }

  indexGet(key: string): Promise<Buffer | undefined> {
    return this.kv.get(indexKey(key));
  }

  async *indexRange(range: IndexRange): AsyncIterable<[string, Buffer]> {
    const r = {
      gte: range.gte !== undefined ? indexKey(range.gte) : range.lte === undefined && range.lt === undefined ? INDEX_KEYS.gte : undefined,
      lt: range.lt !== undefined ? indexKey(range.lt) : range.lte === undefined ? INDEX_KEYS.lt : undefined,
      lte: range.lte !== undefined ? indexKey(range.lte) : undefined,
      reverse: range.reverse,
      limit: range.limit,
    };
    if (r.gte === undefined) r.gte = INDEX_KEYS.gte;
    for await (const [k, v] of this.kv.range(r)) yield [k.slice(2), v];
  }

  stats(): Promise<StoreStats> {
    return this.appender ? this.appender.stats() : readStats(this.kv);
  }

  /** Bytes written to pack files by this writer since it opened. */
  get packBytesWritten(): number {
    return this.appender?.bytesWritten ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.appender?.idle();
      await this.index.stopServing();
      await this.appender?.close();
      await this.reader.close();
      await this.kv.close();
    } finally {
      await this.index.releaseLock();
    }
  }
}
