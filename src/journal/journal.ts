import { randomBytes } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { journalExists, openStore, removeJournal, type OpenStoreOptions } from '../store/open-store.js';
import type { BlobTarget, JournalStore, ReadIntoOptions, StoredEvent, StoreHead, StoreStats } from '../store/store.js';
import { EncryptedStore } from '../store/encrypted-store.js';
import type { JournalKeySource } from '../store/journal-key.js';
import { decodeEvent, encodeEvent } from './codec.js';
import {
  AUDIO_PREFIX,
  audioKey,
  DISK_STATS_PREFIX,
  EPOCH_PREFIX,
  epochKey,
  FRAME_PREFIX,
  frameKey,
  KEYFRAME_PREFIX,
  keyframeKey,
  LABEL_PREFIX,
  labelPrefix,
  parseValue,
  prefixEnd,
  PRUNED_PREFIX,
  prunedKey,
  VM_CONFIG_PREFIX,
  vmConfigKey,
  type AudioEntry,
  type DiskStats,
  type EpochEntry,
  type FrameEntry,
  type KeyframeEntry,
  type LabelEntry,
  type PrunedEntry,
} from './index-keys.js';
import type { ttj } from '../gen/events.js';
import { isPowerOfTwo } from '../util/power-of-two.js';

/** The version string written into new journals. */
export const TTJ_VERSION = 'ttj/0.1.0';
/** The event format version written into new journals' headers. */
export const FORMAT_VERSION = 1;
/** Header format versions this ttj reads. */
const READABLE_FORMAT_VERSIONS = new Set([FORMAT_VERSION]);
/** Default page size (bytes per memory page and per disk block). */
export const DEFAULT_PAGE_SIZE = 4096;

/** Facts from the journal header (event 0). */
export interface JournalHeader {
  formatVersion: number;
  pageSize: number;
  createdBy: string;
  journalId: string;
}

/** Where the stream ends. */
export interface JournalHead {
  /** Seq of the newest event (-1 for none). */
  seq: number;
  /** Hex SHA-256 of the newest event. */
  hash: string;
  /** Newest committed epoch, or -1. */
  epoch: number;
  /** Newest frame, or -1. */
  frame: number;
  /** ISO time of the newest committed epoch, if any. */
  time?: string;
}

/** Options of {@link Journal.open}. */
export interface OpenJournalOptions extends OpenStoreOptions {
  /** For a new journal: bytes per page (power of two, 512..1 MiB). Default 4096. */
  pageSize?: number;
}

/**
 * A journal, open for reading (any number of processes, also while a writer runs)
 * or, through {@link JournalWriter}, for writing.
 */
export class Journal {
  /** The store: reached only through the journal's methods (the one way in). */
  protected constructor(
    protected readonly store: JournalStore,
    readonly header: JournalHeader,
  ) {}

  /**
   * Opens the journal at `dir` for reading.
   * @throws TtjError NOT_A_JOURNAL.
   */
  static async open(dir: string, opts: OpenJournalOptions = {}): Promise<Journal> {
    const store = await openStore(dir, { ...opts, write: false, create: false });
    try {
      return new Journal(store, await readHeader(store));
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /**
   * True when a journal exists at `location` (a directory or a `postgres://` URL).
   * @throws TtjError BAD_ARGUMENT for an unknown URL scheme; STORE_UNAVAILABLE when a server cannot be asked.
   */
  static exists(location: string): Promise<boolean> {
    return journalExists(location);
  }

  /**
   * Removes the journal at `location` whole: only for a journal a failed command just
   * created and left without an epoch (journals are otherwise append-only).
   */
  static remove(location: string): Promise<void> {
    return removeJournal(location);
  }

  get pageSize(): number {
    return this.header.pageSize;
  }

  get location(): string {
    return this.store.location;
  }

  /** True for an encrypted journal (docs/format.md, "Encryption"). */
  get encrypted(): boolean {
    return this.store instanceof EncryptedStore;
  }

  /** An encrypted journal's unlocked key (its key file and ciphers), for opening a replica of it (push); undefined for a plain journal. */
  get key(): JournalKeySource | undefined {
    return this.store instanceof EncryptedStore ? this.store.key : undefined;
  }

  /** The head of the stream, with the newest epoch and frame. */
  async head(): Promise<JournalHead> {
    const h = await this.store.head();
    const e = await this.lastEpoch();
    const f = await this.lastFrame();
    return { seq: h ? h.seq : -1, hash: h ? h.hash.toString('hex') : '', epoch: e ? e.epoch : -1, frame: f ? f.frame : -1, time: e?.time };
  }

  async epoch(n: number): Promise<EpochEntry | undefined> {
    const v = await this.store.indexGet(epochKey(n));
    return v ? parseValue<EpochEntry>(v) : undefined;
  }

  async frame(n: number): Promise<FrameEntry | undefined> {
    const v = await this.store.indexGet(frameKey(n));
    return v ? parseValue<FrameEntry>(v) : undefined;
  }

  async lastEpoch(): Promise<EpochEntry | undefined> {
    for await (const [, v] of this.store.indexRange({ gte: EPOCH_PREFIX, lt: prefixEnd(EPOCH_PREFIX), reverse: true, limit: 1 })) return parseValue<EpochEntry>(v);
    return undefined;
  }

  async lastFrame(): Promise<FrameEntry | undefined> {
    for await (const [, v] of this.store.indexRange({ gte: FRAME_PREFIX, lt: prefixEnd(FRAME_PREFIX), reverse: true, limit: 1 })) return parseValue<FrameEntry>(v);
    return undefined;
  }

  /** Committed epochs, in order. */
  async *epochs(): AsyncIterable<EpochEntry> {
    for await (const [, v] of this.store.indexRange({ gte: EPOCH_PREFIX, lt: prefixEnd(EPOCH_PREFIX) })) yield parseValue<EpochEntry>(v);
  }

  /** Frames, in order. */
  async *frames(): AsyncIterable<FrameEntry> {
    for await (const [, v] of this.store.indexRange({ gte: FRAME_PREFIX, lt: prefixEnd(FRAME_PREFIX) })) yield parseValue<FrameEntry>(v);
  }

  /** Every keyframe entry, in stream order. */
  async *keyframes(): AsyncIterable<KeyframeEntry> {
    for await (const [, v] of this.store.indexRange({ gte: KEYFRAME_PREFIX, lt: prefixEnd(KEYFRAME_PREFIX) })) yield parseValue<KeyframeEntry>(v);
  }

  /** The entry of epoch `n` when a prune dropped it (docs/format.md, "Pruned history"). */
  async pruned(n: number): Promise<PrunedEntry | undefined> {
    const v = await this.store.indexGet(prunedKey(n));
    return v ? parseValue<PrunedEntry>(v) : undefined;
  }

  /** The epochs prunes dropped, ascending. */
  async *prunedEpochs(): AsyncIterable<PrunedEntry> {
    for await (const [, v] of this.store.indexRange({ gte: PRUNED_PREFIX, lt: prefixEnd(PRUNED_PREFIX) })) yield parseValue<PrunedEntry>(v);
  }

  /**
   * The audio chunks whose events lie in `from <= seq < to` (default: all), in stream
   * order, from the index (a range read: no events are scanned). See docs/format.md, "Audio".
   */
  async *audio(opts: { from?: number; to?: number } = {}): AsyncIterable<AudioEntry> {
    const range = { gte: audioKey(opts.from ?? 0), lt: opts.to === undefined ? prefixEnd(AUDIO_PREFIX) : audioKey(opts.to) };
    for await (const [, v] of this.store.indexRange(range)) yield parseValue<AudioEntry>(v);
  }

  /** The newest keyframe at or before `seq`. */
  async keyframeAtOrBefore(seq: number): Promise<KeyframeEntry | undefined> {
    for await (const [, v] of this.store.indexRange({ gte: KEYFRAME_PREFIX, lte: keyframeKey(seq), reverse: true, limit: 1 })) return parseValue<KeyframeEntry>(v);
    return undefined;
  }

  /** The VM configuration (`vm_config` event JSON) in force at `seq`, if any was recorded. */
  async vmConfigAt(seq: number): Promise<{ seq: number; json: string } | undefined> {
    for await (const [, v] of this.store.indexRange({ gte: VM_CONFIG_PREFIX, lte: vmConfigKey(seq), reverse: true, limit: 1 })) return parseValue(v);
    return undefined;
  }

  /** The last epoch committed at or before `seq`, by binary search over the epoch index. */
  async epochAtOrBeforeSeq(seq: number): Promise<EpochEntry | undefined> {
    return this.searchEpochs((e) => e.seq <= seq);
  }

  /** The last epoch committed at or before time `us` (µs since the Unix epoch). */
  async epochAtOrBeforeTime(us: number): Promise<EpochEntry | undefined> {
    return this.searchEpochs((e) => e.timeUs <= us);
  }

  /** The last epoch for which `ok` holds, given it holds for a prefix of the epochs. */
  private async searchEpochs(ok: (e: EpochEntry) => boolean): Promise<EpochEntry | undefined> {
    const last = await this.lastEpoch();
    return searchNumbered(last, last?.epoch, (n) => this.epoch(n), ok);
  }

  /** The last frame at or before `seq`. */
  async frameAtOrBeforeSeq(seq: number): Promise<FrameEntry | undefined> {
    const last = await this.lastFrame();
    return searchNumbered(
      last,
      last?.frame,
      (n) => this.frame(n),
      (f) => f.seq <= seq,
    );
  }

  /**
   * The decoded events with `from <= seq < to` (default: all, up to the head when the
   * iteration starts), in order. They are read as stored; `verify` proves the chain.
   * @example
   * for await (const { seq, event } of journal.events({ from: 1 })) console.log(seq, event.body);
   */
  async *events(opts: { from?: number; to?: number } = {}): AsyncIterable<JournalEvent> {
    for await (const batch of this.store.readEventBatches(opts.from ?? 0, opts.to)) {
      for (const { seq, bytes } of batch) yield { seq, bytes, event: decodeEvent(bytes, seq) };
    }
  }

  /**
   * New commits as they land (from this process or another one writing the journal):
   * one {@link JournalCommit} each time the head moves, with the epochs and frames it
   * committed. Woken by the store's change notification, not by polling. Starts after
   * `after` (a seq; default: the head when called) and runs until `signal` aborts or
   * the journal closes.
   */
  async *watch(opts: { after?: number; signal?: AbortSignal } = {}): AsyncIterable<JournalCommit> {
    let after = opts.after ?? (await this.store.head())?.seq ?? -1;
    let nextEpoch = ((await this.epochAtOrBeforeSeq(after))?.epoch ?? -1) + 1;
    let nextFrame = ((await this.frameAtOrBeforeSeq(after))?.frame ?? -1) + 1;
    for await (const h of this.store.watchHead(after, opts)) {
      const epochs: EpochEntry[] = [];
      const frames: FrameEntry[] = [];
      for await (const [, v] of this.store.indexRange({ gte: epochKey(nextEpoch), lt: prefixEnd(EPOCH_PREFIX) })) {
        const e = parseValue<EpochEntry>(v);
        if (e.seq > h.seq) break;
        epochs.push(e);
      }
      for await (const [, v] of this.store.indexRange({ gte: frameKey(nextFrame), lt: prefixEnd(FRAME_PREFIX) })) {
        const f = parseValue<FrameEntry>(v);
        if (f.seq > h.seq) break;
        frames.push(f);
      }
      nextEpoch += epochs.length;
      nextFrame += frames.length;
      yield { fromSeq: after + 1, head: { seq: h.seq, hash: h.hash.toString('hex') }, epochs, frames };
      after = h.seq;
    }
  }

  /** The newest stored event's seq and hash (undefined for an empty store). */
  storeHead(): Promise<StoreHead | undefined> {
    return this.store.head();
  }

  /** Stored events with `from <= seq < to` (default: up to the head), in batches, undecoded: for hot paths. */
  storedEvents(from: number, to?: number): AsyncIterable<StoredEvent[]> {
    return this.store.readEventBatches(from, to);
  }

  /**
   * The bytes of each blob, checked against its address (see {@link JournalStore.getBlobs}).
   * @throws TtjError CORRUPT_BLOB.
   */
  blobs(addrs: Buffer[], opts?: { verify?: boolean }): Promise<Buffer[]> {
    return this.store.getBlobs(addrs, opts);
  }

  /** Each blob's bytes to `onBlob` without copies, in storage order (see {@link JournalStore.readBlobs}). */
  readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts?: { verify?: boolean }): Promise<void> {
    return this.store.readBlobs(addrs, onBlob, opts);
  }

  /** Copies each blob into `target` at `at[i]`, for serving reads, or checked for folds (see {@link JournalStore.readBlobsInto}). */
  readBlobsInto(addrs: Buffer[], target: BlobTarget, at: number[], opts?: ReadIntoOptions): Promise<void> {
    return this.store.readBlobsInto(addrs, target, at, opts);
  }

  /** The stored length of each blob (undefined: not stored). */
  blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]> {
    return this.store.blobSizes(addrs);
  }

  /** Every stored blob address, in storage order. */
  listBlobs(): AsyncIterable<Buffer> {
    return this.store.listBlobs();
  }

  /** Every stored blob read back once, checked against its address (see {@link JournalStore.readAllBlobs}). */
  readAllBlobs(onBlob: (addr: Buffer, data: Buffer) => void): Promise<void> {
    return this.store.readAllBlobs(onBlob);
  }

  /** How many blobs the store holds and their raw and stored bytes. */
  storeStats(): Promise<StoreStats> {
    return this.store.stats();
  }

  /** The newest label entry with this text. */
  async label(text: string): Promise<LabelEntry | undefined> {
    for await (const [, v] of this.store.indexRange({ gte: labelPrefix(text), lt: prefixEnd(labelPrefix(text)), reverse: true, limit: 1 })) return parseValue<LabelEntry>(v);
    return undefined;
  }

  /** Every label entry, by label text then epoch. */
  async *labels(): AsyncIterable<LabelEntry> {
    for await (const [, v] of this.store.indexRange({ gte: LABEL_PREFIX, lt: prefixEnd(LABEL_PREFIX) })) yield parseValue<LabelEntry>(v);
  }

  /** Every disk's statistics (size, block size, writes so far). */
  async diskStats(): Promise<DiskStats[]> {
    const out: DiskStats[] = [];
    for await (const [, v] of this.store.indexRange({ gte: DISK_STATS_PREFIX, lt: prefixEnd(DISK_STATS_PREFIX) })) out.push(parseValue<DiskStats>(v));
    return out;
  }

  /** Every secondary index entry, raw, in key order (for `verify`, which compares them with the events). */
  indexEntries(): AsyncIterable<[string, Buffer]> {
    return this.store.indexRange({});
  }

  /** Decodes the event at `seq`. */
  async event(seq: number): Promise<ttj.v1.Event> {
    for await (const e of this.store.readEvents(seq, seq + 1)) return decodeEvent(e.bytes, seq);
    throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} is missing`, { seq });
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** One event as stored and decoded (see {@link Journal.events}). */
export interface JournalEvent {
  seq: number;
  /** Its stored bytes (their SHA-256 is the next event's `prev_hash`). */
  bytes: Buffer;
  event: ttj.v1.Event;
}

/** What one move of the head appended (see {@link Journal.watch}). */
export interface JournalCommit {
  /** The first seq appended; the last is `head.seq`. */
  fromSeq: number;
  head: { seq: number; hash: string };
  /** Epochs committed by these events. */
  epochs: EpochEntry[];
  /** Frames among these events. */
  frames: FrameEntry[];
}

/** The last entry of a numbered index (0..last) for which `ok` holds, given it holds for a prefix. */
async function searchNumbered<T>(last: T | undefined, lastNumber: number | undefined, get: (n: number) => Promise<T | undefined>, ok: (e: T) => boolean): Promise<T | undefined> {
  if (!last || lastNumber === undefined) return undefined;
  if (ok(last)) return last;
  let lo = 0;
  let hi = lastNumber; // ok(hi) is false
  let best: T | undefined;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = await get(mid);
    if (!e) throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: entry ${mid} is missing (ttj repair rebuilds it)`, {});
    if (ok(e)) {
      best = e;
      lo = mid + 1;
    } else hi = mid;
  }
  return best;
}

/** Reads and checks event 0. */
export async function readHeader(store: JournalStore): Promise<JournalHeader> {
  // A journal whose making was interrupted before its header event: the next writer writes it.
  if (!(await store.head()) && !(await store.lastStoredEvent()))
    throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${store.location} has no journal header yet (its making was interrupted; an append completes it)`, { path: store.location });
  for await (const e of store.readEvents(0, 1)) {
    const ev = decodeEvent(e.bytes, 0);
    if (ev.body !== 'header' || !ev.header) throw new TtjError(ErrorCodes.CORRUPT_EVENT, 'event 0 is not a journal header', { seq: 0 });
    const h = ev.header;
    if (!READABLE_FORMAT_VERSIONS.has(h.formatVersion ?? 0)) {
      throw new TtjError(ErrorCodes.UNSUPPORTED_VERSION, `${store.location} is a journal of format version ${h.formatVersion}; this ttj reads format ${[...READABLE_FORMAT_VERSIONS].join(', ')}`, {
        path: store.location,
        expected: FORMAT_VERSION,
        actual: h.formatVersion ?? 0,
      });
    }
    return { formatVersion: h.formatVersion ?? 0, pageSize: h.pageSize ?? 0, createdBy: h.createdBy ?? '', journalId: Buffer.from(h.journalId ?? []).toString('hex') };
  }
  throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${store.location} has no journal header`, { path: store.location });
}

/** Checks a page size: a power of two from 512 bytes to 1 MiB. */
export function checkPageSize(n: number): void {
  if (!isPowerOfTwo(n) || n < 512 || n > 1 << 20) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `page size ${n} is not a power of two between 512 and 1048576`, { actual: n });
  }
}

/** The first event of a new journal. */
export function headerEvent(pageSize: number): Uint8Array {
  return encodeEvent({
    seq: 0,
    timeUs: Date.now() * 1000,
    prevHash: Buffer.alloc(32),
    header: { formatVersion: FORMAT_VERSION, pageSize, createdBy: TTJ_VERSION, journalId: randomBytes(16) },
  });
}
