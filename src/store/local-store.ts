/**
 * The embedded store: a journal directory with a LevelDB index and append-only
 * pack files.
 *
 * ```
 * J/ttj-journal.json   marker: {"format":"ttj-journal","version":1}
 * J/index/             LevelDB: events, blob locations, head, secondary index
 * J/packs/NNNNNNNN.pack blob bytes in zstd-compressed blocks
 * J/writer.lock        the writer's pid, host and command while one writes
 * ```
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes, isTtjError, TtjError, toTtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { makeDirs } from '../util/make-dirs.js';
import { sha256Ranges } from '../native/index.js';
import type { KvOp, KvReader, KvWriter } from './kv.js';
import { readerSocketName } from './kv-wire.js';
import { serveKv } from './kv-server.js';
import { LevelKv } from './level-kv.js';
import { RemoteKv } from './remote-kv.js';
import { ReconnectingKv } from './reconnecting-kv.js';
import { BLOCK_HEADER, decodeLocation, encodeLocation, isStored, PackReader, PackWriter, type BlobLocation, type BlockScratch, type PackMark } from './pack-files.js';
import { acquireWriterLock, LOCK_FILE, readLockHolder } from './writer-lock.js';
import { DIR_MODE, FILE_MODE } from './file-modes.js';
import { watchHead, type WatchHeadOptions } from './head-watch.js';
import type { AppendBatch, AppendResult, IndexEntry, IndexRange, JournalStore, StoreHead, StoreStats, StoredEvent } from './store.js';

export const MARKER_FILE = 'ttj-journal.json';
/** The marker of the store layout this ttj writes; it reads exactly these versions. */
const MARKER = { format: 'ttj-journal', version: 1 };
const READABLE_MARKER_VERSIONS = new Set([1]);
/** Raw bytes per compressed block (pages appended together are compressed together). */
export const BLOCK_RAW_BYTES = 1024 * 1024;

const K_HEAD = 'h';
const K_STATS = 's';
const K_SYNC = 'y';
/** Blob locations looked up per LevelDB getMany call (slices run in parallel). */
const LOOKUP_SLICE = 1024;
/** Blob locations kept in memory (most recently used; ~100 bytes each). */
const LOCATION_CACHE_ENTRIES = 65536;
/** Pack blocks read and decompressed at once by getBlobs. */
const READ_CONCURRENCY = 4;
/** Reads of more blocks than this are bulk reads (see readLocated). */
const BULK_READ_BLOCKS = 8;
const eventKey = (seq: number) => 'e/' + seq.toString(16).padStart(14, '0');
const blobKey = (addr: Buffer) => 'b/' + addr.toString('hex');
const indexKey = (k: string) => 'i/' + k;

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
}

/** Pack-file cache modes (see {@link LocalStoreOptions.cache}). */
export type CacheMode = 'none' | 'writeback';

/**
 * The cache mode to use: `mode`, else `TTJ_CACHE`, else `none`.
 * @throws TtjError BAD_ARGUMENT for another value.
 */
export function resolveCacheMode(mode?: string): CacheMode {
  const m = mode ?? process.env.TTJ_CACHE ?? 'none';
  if (m !== 'none' && m !== 'writeback') throw new TtjError(ErrorCodes.BAD_ARGUMENT, `cache mode must be none or writeback, not ${JSON.stringify(m)}`, { mode: m });
  return m;
}

/** True when `dir` holds a journal marker (false also when it cannot be read). */
export async function isJournalDir(dir: string): Promise<boolean> {
  return (await readMarker(dir).catch(() => undefined)) !== undefined;
}

/**
 * The journal marker of `dir`, or undefined when there is none (no such file or
 * directory, or not a ttj marker).
 * @throws TtjError PERMISSION (or another environment code) when `dir` may hold a
 *   marker this process cannot read, rather than reporting "not a journal".
 */
async function readMarker(dir: string): Promise<{ format: string; version: unknown } | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw toTtjError(e, { path: dir, what: 'reading the journal marker' });
  }
  try {
    const m = JSON.parse(text);
    return m && m.format === MARKER.format ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a journal whose marker names a store layout this ttj cannot read.
 * @throws TtjError UNSUPPORTED_VERSION.
 */
function checkMarkerVersion(dir: string, m: { version: unknown }): void {
  if (!READABLE_MARKER_VERSIONS.has(m.version as number)) {
    throw new TtjError(ErrorCodes.UNSUPPORTED_VERSION, `${dir} is a journal of store version ${JSON.stringify(m.version)}; this ttj reads version ${[...READABLE_MARKER_VERSIONS].join(', ')}`, {
      path: dir,
      expected: MARKER.version,
      actual: String(m.version),
    });
  }
}

const encodeHead = (h: StoreHead): Buffer => {
  const v = Buffer.alloc(38);
  v.writeUIntLE(h.seq, 0, 6);
  h.hash.copy(v, 6);
  return v;
};
const decodeHead = (v: Buffer): StoreHead => ({ seq: v.readUIntLE(0, 6), hash: Buffer.from(v.subarray(6, 38)) });

/**
 * A new journal's directory, its packs directory and its marker: the owner's only
 * (0700 directories, 0600 files; guest memory holds secrets). Returns the undo: what
 * it made removed again (for an open that fails later, on a full disk say); a failure
 * here undoes itself.
 */
async function createJournalDir(dir: string): Promise<() => Promise<void>> {
  let madeDir = false;
  const undo = async () => {
    if (madeDir) await rm(dir, { recursive: true, force: true });
    else for (const name of [MARKER_FILE, 'packs', 'index', LOCK_FILE]) await rm(join(dir, name), { recursive: true, force: true });
  };
  try {
    // Parents as the umask makes them; the journal's own directory (unless given empty) the owner's only.
    await makeDirs(dirname(dir), 0o777);
    await mkdir(dir, { mode: DIR_MODE }).then(
      () => (madeDir = true),
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      },
    );
    await mkdir(join(dir, 'packs'), { mode: DIR_MODE });
    await writeFile(join(dir, MARKER_FILE), JSON.stringify(MARKER) + '\n', { mode: FILE_MODE });
  } catch (e) {
    await undo().catch(() => undefined);
    throw toTtjError(e, { path: dir, what: 'creating the journal' });
  }
  return undo;
}

export class LocalStore implements JournalStore {
  readonly location: string;
  private readonly packs: PackReader;
  private writer: PackWriter | undefined;
  private appending: Promise<unknown> = Promise.resolve();
  private release: (() => Promise<void>) | undefined;
  private stopServing: (() => Promise<void>) | undefined;
  private closed = false;
  /**
   * Recently appended or looked-up blob locations by blob key. Blobs are never moved
   * or deleted, so an entry never goes stale; entries are added only once their
   * LevelDB batch is written.
   */
  private readonly locations = new Map<string, Buffer>();
  /**
   * Writer only: blob keys LevelDB was just asked for and did not have. Nobody else
   * appends, so an entry stays true until this store appends that blob (which removes
   * it). A writer that hashes a batch before appending it (an NBD group commit) asks
   * {@link hasBlobs} early, and the append then need not look them up again.
   */
  private readonly absent = new Set<string>();
  /** The writer's head and statistics, as its last append left them (undefined until then). */
  private known: { head: StoreHead | undefined; stats: StoreStats } | undefined;

  private constructor(
    dir: string,
    private readonly kv: KvReader,
    readonly writable: boolean,
    direct: boolean,
  ) {
    this.location = dir;
    this.packs = new PackReader(join(dir, 'packs'), undefined, { direct });
  }

  /**
   * Opens the journal at `dir`.
   * @throws TtjError NOT_A_JOURNAL, JOURNAL_EXISTS (create on an existing non-empty dir that is not a journal), LOCKED.
   */
  static async open(dir: string, opts: LocalStoreOptions = {}): Promise<LocalStore> {
    const write = opts.write || opts.create;
    const direct = resolveCacheMode(opts.cache) === 'none';
    /** Removes the journal this open created, when the open fails after all. */
    let undoCreate: (() => Promise<void>) | undefined;
    const marker = await readMarker(dir);
    if (marker) checkMarkerVersion(dir, marker);
    else {
      let exists = false;
      try {
        const st = await stat(dir);
        if (!st.isDirectory()) throw new TtjError(ErrorCodes.NOT_A_DIRECTORY, `${dir} is a file, not a journal directory`, { path: dir });
        exists = true;
      } catch (e) {
        if (isTtjError(e)) throw e;
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw toTtjError(e, { path: dir, what: 'opening the journal' });
      }
      if (!opts.create) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, exists ? `${dir} is not a ttj journal` : `no journal at ${dir}`, { path: dir });
      if (exists) {
        const { readdir } = await import('node:fs/promises');
        if ((await readdir(dir)).length > 0) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${dir} exists, is not empty and is not a ttj journal`, { path: dir });
      }
      undoCreate = await createJournalDir(dir);
    }
    const levelPath = join(dir, 'index');
    if (!write) return LocalStore.checked(new LocalStore(dir, new ReconnectingKv(levelPath, dir), false, direct), opts);

    const command = opts.command ?? 'ttj';
    const lock = await acquireWriterLock(dir, command).catch(async (e: unknown) => {
      await undoCreate?.().catch(() => undefined);
      throw e;
    });
    try {
      const kv = await openIndexForWriting(levelPath, dir, opts.waitMs ?? 30000);
      const store = new LocalStore(dir, kv, true, direct);
      store.release = lock.release;
      store.writer = new PackWriter(join(dir, 'packs'), opts.compressionLevel ?? 1, { direct });
      try {
        store.stopServing = (await serveKv(kv, readerSocketName(dir), { role: 'writer', command })).close;
      } catch {
        /* readers then wait for this writer to finish */
      }
      return await LocalStore.checked(store, opts);
    } catch (e) {
      await lock.release();
      await undoCreate?.().catch(() => undefined);
      throw e;
    }
  }

  /** `store` once its head entry is found to agree with its events (unless opened to repair); closed otherwise. */
  private static async checked(store: LocalStore, opts: LocalStoreOptions): Promise<LocalStore> {
    if (opts.repair) return store;
    try {
      await store.checkHead();
      return store;
    } catch (e) {
      store.release = undefined; // a writer's caller releases the writer lock
      await store.close().catch(() => undefined);
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

  async head(): Promise<StoreHead | undefined> {
    // The one writer knows the head (nobody else appends); readers ask the index.
    if (this.known) return this.known.head && { seq: this.known.head.seq, hash: Buffer.from(this.known.head.hash) };
    const v = await this.kv.get(K_HEAD);
    return v ? decodeHead(v) : undefined;
  }

  async lastStoredEvent(): Promise<StoreHead | undefined> {
    for await (const [k, v] of this.kv.range({ gte: 'e/', lt: 'e0', reverse: true, limit: 1 })) return { seq: parseInt(k.slice(2), 16), hash: sha256(v) };
    return undefined;
  }

  append(batch: AppendBatch): Promise<AppendResult> {
    const run = this.appending.then(() => this.doAppend(batch));
    this.appending = run.catch(() => undefined);
    return run;
  }

  private async doAppend(batch: AppendBatch): Promise<AppendResult> {
    if (!this.writable || !this.writer) throw new TtjError(ErrorCodes.READ_ONLY, `the journal ${this.location} is open read-only`);
    const kv = this.kv as KvWriter;
    const head = await this.head();
    const headSeq = head ? head.seq : -1;
    if (headSeq !== batch.expectedHead) {
      throw new TtjError(ErrorCodes.WRONG_EXPECTED_HEAD, `append expected head ${batch.expectedHead} but the head is ${headSeq}`, {
        expected: batch.expectedHead,
        actual: headSeq,
      });
    }
    if (batch.events.length === 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'an append needs at least one event');
    // Never over an existing event, whatever the head entry says (checked once per writer: it is the only appender).
    if (!this.known && (await kv.get(eventKey(headSeq + 1)))) {
      throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: event ${headSeq + 1} is stored beyond its head ${headSeq} (ttj repair rebuilds the index)`, {
        seq: headSeq + 1,
      });
    }
    const ops: KvOp[] = [];
    // Blobs first: dedupe within the batch and against the store.
    const fresh = new Map<string, Buffer>();
    for (const b of batch.blobs ?? []) {
      const k = blobKey(b.addr);
      if (!fresh.has(k)) fresh.set(k, b.data);
    }
    const keys = [...fresh.keys()];
    const have = keys.length ? await this.lookup(keys) : [];
    keys.forEach((k, i) => {
      if (have[i]) fresh.delete(k);
    });
    let newBytes = 0;
    const before = this.writer.bytesWritten;
    // Blobs in blocks of up to BLOCK_RAW_BYTES, all blocks of the batch in one write.
    const groups: [string, Buffer][][] = [];
    let group: [string, Buffer][] = [];
    let groupBytes = 0;
    for (const [k, data] of fresh) {
      if (groupBytes + data.length > BLOCK_RAW_BYTES && group.length) {
        groups.push(group);
        group = [];
        groupBytes = 0;
      }
      group.push([k, data]);
      groupBytes += data.length;
      newBytes += data.length;
    }
    if (group.length) groups.push(group);
    const placed: [string, Buffer][] = [];
    const sync = batch.sync ?? true;
    const mark = this.writer.mark();
    if (groups.length) {
      const locs = await this.writeBlocks(
        groups.map((g) => g.map((e) => e[1])),
        sync,
        mark,
      );
      groups.forEach((g, gi) =>
        g.forEach(([k], i) => {
          const value = encodeLocation(locs[gi]![i]!);
          ops.push({ type: 'put', key: k, value });
          placed.push([k, value]);
        }),
      );
    }
    const storedBytes = this.writer.bytesWritten - before;

    let seq = headSeq;
    let last: Uint8Array = new Uint8Array();
    for (const ev of batch.events) {
      seq++;
      last = ev;
      ops.push({ type: 'put', key: eventKey(seq), value: Buffer.from(ev.buffer, ev.byteOffset, ev.byteLength) });
    }
    const index = typeof batch.index === 'function' ? batch.index({ newBlobs: fresh.size, newBytes, storedBytes }) : (batch.index ?? []);
    for (const e of index) ops.push({ type: 'put', key: indexKey(e.key), value: e.value });
    const hash = sha256(last);
    ops.push({ type: 'put', key: K_HEAD, value: encodeHead({ seq, hash }) });
    const stats = await this.stats();
    stats.blobs += fresh.size;
    stats.rawBytes += newBytes;
    stats.storedBytes += storedBytes;
    ops.push({ type: 'put', key: K_STATS, value: Buffer.from(JSON.stringify(stats)) });
    await this.writeIndex(kv, ops, { seq, hash }, sync, mark);
    this.known = { head: { seq, hash }, stats };
    for (const [k, v] of placed) {
      this.absent.delete(k);
      this.remember(k, v);
    }
    return { head: { seq, hash }, newBlobs: fresh.size, newBytes, storedBytes };
  }

  /**
   * Writes blob blocks (made durable with `sync`); when that fails (a full disk), the
   * pack file is cut back to `mark` before this rejects.
   * @throws TtjError NO_SPACE, READ_ONLY, PERMISSION...
   */
  private async writeBlocks(groups: Buffer[][], sync: boolean, mark: PackMark): Promise<BlobLocation[][]> {
    const writer = this.writer!;
    try {
      const locs = await writer.appendBlocks(groups);
      if (sync) await writer.sync();
      return locs;
    } catch (e) {
      await writer.rollback(mark).catch(() => undefined);
      throw toTtjError(e, { path: this.location, what: 'writing blob bytes' });
    }
  }

  /**
   * The index batch of an append. When it fails, the index (opened again by
   * {@link LevelKv.batch}) says whether the batch is in it after all (a log write that
   * failed only as it was synced); when it is not, the pack file is cut back to `mark`,
   * so that the failed append leaves nothing behind.
   */
  private async writeIndex(kv: KvWriter, ops: KvOp[], head: StoreHead, sync: boolean, mark: PackMark): Promise<void> {
    try {
      await kv.batch(ops, { sync });
    } catch (e) {
      let landed: boolean | undefined; // undefined: the index cannot say; its bytes are then kept
      try {
        const now = await kv.get(K_HEAD);
        const landedHead = now && decodeHead(now);
        landed = !!landedHead && landedHead.seq === head.seq && landedHead.hash.equals(head.hash);
      } catch {
        landed = undefined;
      }
      if (landed) return;
      if (landed === false) await this.writer!.rollback(mark).catch(() => undefined);
      // The next append reads the head from the index again (and so never writes over
      // a batch that reached it after all).
      this.known = undefined;
      throw e;
    }
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

  async hasBlobs(addrs: Buffer[]): Promise<boolean[]> {
    // Array.from: a lookup leaves holes for blobs it knows to be absent.
    return Array.from(await this.lookup(addrs.map(blobKey)), (v) => v !== undefined);
  }

  async prefetchBlobs(addrs: Buffer[]): Promise<void> {
    await this.lookup(addrs.map(blobKey));
  }

  async blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]> {
    return Array.from(await this.lookup(addrs.map(blobKey)), (v) => (v ? decodeLocation(v).itemLen : undefined));
  }

  async rebuildIndex(head: StoreHead, index: IndexEntry[]): Promise<void> {
    if (!this.writable || !this.writer) throw new TtjError(ErrorCodes.READ_ONLY, `the journal ${this.location} is open read-only`);
    const run = this.appending.then(async () => {
      const last = await this.lastStoredEvent();
      if (!last || last.seq !== head.seq || !last.hash.equals(head.hash)) {
        throw new TtjError(ErrorCodes.CORRUPT_EVENT, `a rebuilt head must be the last stored event (${last ? last.seq : 'none'})`, { expected: last?.seq ?? -1, actual: head.seq });
      }
      const ops: KvOp[] = [];
      for await (const [k] of this.kv.range({ gte: 'i/', lt: 'i0' })) ops.push({ type: 'del', key: k });
      for (const e of index) ops.push({ type: 'put', key: indexKey(e.key), value: e.value });
      ops.push({ type: 'put', key: K_HEAD, value: encodeHead(head) });
      const stats = await this.countBlobs();
      ops.push({ type: 'put', key: K_STATS, value: Buffer.from(JSON.stringify(stats)) });
      await (this.kv as KvWriter).batch(ops, { sync: true });
      this.known = { head: { seq: head.seq, hash: Buffer.from(head.hash) }, stats };
    });
    this.appending = run.catch(() => undefined);
    return run;
  }

  /** The store statistics counted from the blob locations themselves. */
  private async countBlobs(): Promise<StoreStats> {
    const stats: StoreStats = { blobs: 0, rawBytes: 0, storedBytes: 0 };
    const blocks = new Set<string>();
    for await (const [, v] of this.kv.range({ gte: 'b/', lt: 'b0' })) {
      const l = decodeLocation(v);
      stats.blobs++;
      stats.rawBytes += l.itemLen;
      const block = `${l.pack}:${l.offset}`;
      if (!blocks.has(block)) {
        blocks.add(block);
        stats.storedBytes += BLOCK_HEADER + l.clen;
      }
    }
    return stats;
  }

  /** Locations by blob key: the cache first, then LevelDB (in parallel slices) for the rest. */
  private async lookup(keys: string[]): Promise<(Buffer | undefined)[]> {
    const out = new Array<Buffer | undefined>(keys.length);
    const missing: number[] = [];
    const absent = this.writable ? this.absent : undefined;
    keys.forEach((k, i) => {
      const v = this.locations.get(k);
      if (v) out[i] = v;
      else if (!absent?.has(k)) missing.push(i);
    });
    if (!missing.length) return out;
    const missKeys = missing.map((i) => keys[i]!);
    const slices: Promise<(Buffer | undefined)[]>[] = [];
    for (let i = 0; i < missKeys.length; i += LOOKUP_SLICE) slices.push(this.kv.getMany(missKeys.slice(i, i + LOOKUP_SLICE)));
    const found = (await Promise.all(slices)).flat();
    // Small lookups (a disk read, an NBD write) are cached; a fold's bulk lookups would only churn the cache.
    const cache = missKeys.length <= 4096;
    found.forEach((v, j) => {
      out[missing[j]!] = v;
      if (v && cache) this.remember(missKeys[j]!, v);
      // Not when an append placed it meanwhile (it was looked up while its batch was written).
      else if (!v && cache && absent && !this.locations.has(missKeys[j]!)) {
        if (absent.size >= LOCATION_CACHE_ENTRIES) absent.delete(absent.values().next().value as string);
        absent.add(missKeys[j]!);
      }
    });
    return out;
  }

  private remember(key: string, location: Buffer): void {
    const m = this.locations;
    if (m.size >= LOCATION_CACHE_ENTRIES) m.delete(m.keys().next().value as string);
    m.set(key, location);
  }

  async sync(): Promise<void> {
    if (!this.writable || !this.writer) return;
    const run = this.appending.then(async () => {
      await this.writer!.sync();
      // A synchronous LevelDB write makes every earlier (unsynced) write durable too.
      await (this.kv as KvWriter).batch([{ type: 'put', key: K_SYNC, value: Buffer.from(String(Date.now())) }], { sync: true });
    });
    this.appending = run.catch(() => undefined);
    return run;
  }

  async getBlobs(addrs: Buffer[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    const out = new Array<Buffer>(addrs.length);
    await this.readBlobs(addrs, (i, data) => (out[i] = Buffer.from(data)), opts);
    return out;
  }

  async readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts: { verify?: boolean } = {}): Promise<void> {
    await this.readLocated(addrs, await this.locate(addrs), onBlob, opts.verify !== false);
  }

  /**
   * Each blob's location (the cache, else LevelDB in parallel slices).
   * @throws TtjError CORRUPT_BLOB naming the first blob the store does not have.
   */
  private async locate(addrs: Buffer[]): Promise<BlobLocation[]> {
    const locs = await this.lookup(addrs.map(blobKey));
    return locs.map((v, i) => {
      if (!v) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} is not in the store`, { addr: addrs[i]!.toString('hex') });
      return decodeLocation(v);
    });
  }

  /** {@link readBlobs} of blobs already located: each pack block read (and decompressed) once. */
  private async readLocated(addrs: Buffer[], locs: BlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean): Promise<void> {
    const byBlock = new Map<string, { loc: BlobLocation; items: number[] }>();
    locs.forEach((loc, i) => {
      const k = `${loc.pack}:${loc.offset}`;
      const b = byBlock.get(k);
      if (b) b.items.push(i);
      else byBlock.set(k, { loc, items: [i] });
    });
    // Read each block once, in file order (few, large, sequential reads), a few at a time.
    const blocks = [...byBlock.values()].sort((a, b) => a.loc.pack - b.loc.pack || a.loc.offset - b.loc.offset);
    let next = 0;
    // A bulk read (a fold) decompresses into reused buffers of each worker and leaves
    // the block cache alone; small reads share the cache.
    const bulk = blocks.length > BULK_READ_BLOCKS;
    const worker = async () => {
      const scratch: BlockScratch | undefined = bulk ? { packed: Buffer.allocUnsafe(0), raw: Buffer.allocUnsafe(0) } : undefined;
      while (next < blocks.length) {
        const { loc, items } = blocks[next++]!;
        const block = scratch ? await this.packs.readBlockInto(loc, scratch) : await this.packs.readBlock(loc);
        const locsOf = items.map((i) => locs[i]!);
        // All items of a block are hashed in one call (natively, with SHA-NI when there).
        const hashes = verify
          ? sha256Ranges(
              block,
              Uint32Array.from(locsOf, (l) => l.itemOff),
              Uint32Array.from(locsOf, (l) => l.itemLen),
            )
          : undefined;
        items.forEach((i, k) => {
          const l = locsOf[k]!;
          const data = block.subarray(l.itemOff, l.itemOff + l.itemLen);
          if (hashes) {
            const actual = hashes.subarray(k * 32, (k + 1) * 32);
            if (!actual.equals(addrs[i]!)) {
              throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} does not hash to its address`, {
                addr: addrs[i]!.toString('hex'),
                expected: addrs[i]!.toString('hex'),
                actual: actual.toString('hex'),
                pack: l.pack,
                offset: l.offset,
              });
            }
          }
          onBlob(i, data);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, blocks.length) }, worker));
  }

  async readBlobsInto(addrs: Buffer[], target: Buffer, at: number[]): Promise<void> {
    const locs = await this.locate(addrs);
    // Items of stored blocks are copied from the pack files directly, adjacent ones
    // (a write that was appended together) in one read; the rest through the block cache.
    const runs: { pack: number; offset: number; itemOff: number; at: number; len: number }[] = [];
    const viaBlocks: number[] = [];
    const order = locs.map((_, i) => i).sort((a, b) => locs[a]!.pack - locs[b]!.pack || locs[a]!.offset - locs[b]!.offset || locs[a]!.itemOff - locs[b]!.itemOff);
    for (const i of order) {
      const l = locs[i]!;
      if (!isStored(l)) {
        viaBlocks.push(i);
        continue;
      }
      const last = runs[runs.length - 1];
      if (last && last.pack === l.pack && last.offset === l.offset && last.itemOff + last.len === l.itemOff && last.at + last.len === at[i]) last.len += l.itemLen;
      else runs.push({ pack: l.pack, offset: l.offset, itemOff: l.itemOff, at: at[i]!, len: l.itemLen });
    }
    const reads = runs.map((r) => this.packs.readStored(r.pack, r.offset, r.itemOff, target, r.at, r.len));
    if (viaBlocks.length) {
      reads.push(
        this.readLocated(
          viaBlocks.map((i) => addrs[i]!),
          viaBlocks.map((i) => locs[i]!),
          (k, data) => data.copy(target, at[viaBlocks[k]!]!),
          false,
        ),
      );
    }
    await Promise.all(reads);
  }

  async *listBlobs(): AsyncIterable<Buffer> {
    // In storage order (pack, offset), so that reading them all back is sequential.
    const all: { addr: Buffer; pack: number; offset: number }[] = [];
    for await (const [k, v] of this.kv.range({ gte: 'b/', lt: 'b0' })) {
      const l = decodeLocation(v);
      all.push({ addr: Buffer.from(k.slice(2), 'hex'), pack: l.pack, offset: l.offset });
    }
    all.sort((a, b) => a.pack - b.pack || a.offset - b.offset);
    for (const b of all) yield b.addr;
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
      gte: range.gte !== undefined ? indexKey(range.gte) : range.lte === undefined && range.lt === undefined ? 'i/' : undefined,
      lt: range.lt !== undefined ? indexKey(range.lt) : range.lte === undefined ? 'i0' : undefined,
      lte: range.lte !== undefined ? indexKey(range.lte) : undefined,
      reverse: range.reverse,
      limit: range.limit,
    };
    if (r.gte === undefined) r.gte = 'i/';
    for await (const [k, v] of this.kv.range(r)) yield [k.slice(2), v];
  }

  async stats(): Promise<StoreStats> {
    if (this.known) return { ...this.known.stats };
    const v = await this.kv.get(K_STATS);
    return v ? (JSON.parse(v.toString()) as StoreStats) : { blobs: 0, rawBytes: 0, storedBytes: 0 };
  }

  /** Bytes written to pack files by this writer since it opened. */
  get packBytesWritten(): number {
    return this.writer?.bytesWritten ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.appending;
      if (this.stopServing) await this.stopServing();
      await this.writer?.close();
      await this.packs.close();
      await this.kv.close();
    } finally {
      if (this.release) await this.release();
    }
  }
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
  const deadline = Date.now() + waitMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      return await LevelKv.open(levelPath, { create: true });
    } catch (e) {
      if (!isTtjError(e, ErrorCodes.LOCKED)) throw toTtjError(e, { path: dir });
      // A reader holding the index gives it up when asked (it reads on through us).
      if (await askHandOver(readerSocketName(dir))) {
        await new Promise((r) => setTimeout(r, 20)); // it closes the index right after answering
        continue;
      }
      if (Date.now() > deadline) {
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
        throw new TtjError(ErrorCodes.LOCKED, `the journal ${dir} is held by ${who}`, { path: dir }, { cause: e });
      }
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}
