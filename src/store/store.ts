/**
 * The store interface every journal backend implements (the embedded LevelDB +
 * pack files backend today; remote ones later). It knows nothing of VMs: it keeps
 * an append-only sequence of event bytes, content-addressed blobs, and a small
 * secondary index, and it makes each appended batch visible atomically.
 * `storeComplianceSuite` (./compliance-suite.ts, published as `ttj/testing`) is the executable form of this contract.
 */
import type { BlobTarget } from './blob-target.js';

/** One stored event: its sequence number, its bytes and the SHA-256 of those bytes. */
export interface StoredEvent {
  seq: number;
  bytes: Buffer;
}

/** The newest event of the store. */
export interface StoreHead {
  seq: number;
  /** SHA-256 of the head event's bytes. */
  hash: Buffer;
}

/** A blob to store: its content address (SHA-256 of `data`) and its bytes. */
export interface BlobPut {
  addr: Buffer;
  data: Buffer;
  /**
   * `data` is blob `base` (the zero address: zeroes) with only `data[at, at + length)`
   * changed (a small disk write): a store may keep just those bytes and a reference
   * to `base` (the embedded store does, see docs/format.md "Blob locations"); `base`
   * must be stored already or come earlier in the same append.
   */
  patch?: { base: Buffer; at: number; length: number };
}

/** One secondary index entry. */
export interface IndexEntry {
  key: string;
  value: Buffer;
}

/** One atomic append. */
export interface AppendBatch {
  /** The head seq the caller built this batch on (-1 for an empty store). */
  expectedHead: number;
  /** Encoded events; the first gets seq expectedHead + 1. */
  events: Uint8Array[];
  /** Blobs the events refer to. Already-stored ones are skipped (deduplication). */
  blobs?: BlobPut[];
  /**
   * Blobs the events name without giving them (they were found stored): checked again
   * inside the append, after any removal ({@link JournalStore.removeBlobs}) that ran
   * meanwhile; one that is gone fails the append with CORRUPT_BLOB, nothing written.
   */
  relies?: Buffer[];
  /**
   * Secondary index entries (epoch, frame and label lookups), written atomically
   * with the events. A function is called once the blobs are written, with what
   * that cost, so entries can record it.
   */
  index?: IndexEntry[] | ((written: { newBlobs: number; newBytes: number; storedBytes: number }) => IndexEntry[]);
  /**
   * Durable before the append resolves (fsync of blob bytes and index). Default true.
   * With false the batch is visible (and survives a crash of this process) at once,
   * and durable against power loss after the next {@link JournalStore.sync}.
   */
  sync?: boolean;
}

/** What an append did. */
export interface AppendResult {
  head: StoreHead;
  /** Blobs that were new to the store. */
  newBlobs: number;
  /** Their uncompressed bytes. */
  newBytes: number;
  /** Bytes written to blob storage (compressed, with headers). */
  storedBytes: number;
}

/** Options of {@link JournalStore.removeBlobs}. */
export interface RemoveBlobsOptions {
  /** The head seq the caller decided the removal at. */
  planHead: number;
  /** The blobs a stored event names: those named by an event appended after `planHead` are kept (appended meanwhile, they name them again). */
  named: (event: StoredEvent) => Buffer[];
}

/** What {@link JournalStore.removeBlobs} did. */
export interface RemovedBlobs {
  /** Blobs removed (stored, and not named again). */
  blobs: number;
  /** Their uncompressed bytes. */
  rawBytes: number;
  /** Blobs kept because an event appended after the plan names them. */
  spared: number;
}

/** What {@link JournalStore.compact} did. */
export interface CompactResult {
  /** Storage units (pack files, block rows) removed because no blob is left in them. */
  removed: number;
  /** Storage units whose live blobs were copied elsewhere before they were removed. */
  rewritten: number;
  /** Bytes of live blobs copied (uncompressed). */
  bytesCopied: number;
  /** Bytes of blob storage given back (compressed, with headers). */
  bytesFreed: number;
}

/** Statistics of the store. */
export interface StoreStats {
  blobs: number;
  rawBytes: number;
  storedBytes: number;
}

/** Options for index range reads. */
export interface IndexRange {
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
  limit?: number;
}

/**
 * A journal's store: an append-only sequence of event bytes, content-addressed blobs and a
 * small secondary index, each append applied atomically (see the module comment). Backends:
 * {@link LocalStore} (a directory) and the PostgreSQL store (a `postgres://` location);
 * `storeComplianceSuite` (`ttj/testing`) is the executable contract.
 */
export interface JournalStore {
  /** Where the store lives (a directory or URL). */
  readonly location: string;
  /** False for readers. */
  readonly writable: boolean;
  /** The newest event, or undefined when the store is empty. */
  head(): Promise<StoreHead | undefined>;
  /**
   * Appends a batch atomically: blobs first, then the events and index entries in
   * one durable write. A reader sees all of it or none of it.
   * @throws TtjError WRONG_EXPECTED_HEAD when the head moved; READ_ONLY for readers.
   */
  append(batch: AppendBatch): Promise<AppendResult>;
  /** Events with `from <= seq < to` (to defaults to head + 1), in order, in batches. */
  readEventBatches(from: number, to?: number, batchSize?: number): AsyncIterable<StoredEvent[]>;
  /** Events one at a time; see {@link readEventBatches}. */
  readEvents(from: number, to?: number): AsyncIterable<StoredEvent>;
  /**
   * A hint that an append will soon name these blobs: a backend may look them up now
   * (the embedded store remembers which it has and which it lacks, for the append).
   * Answers nothing; a backend may ignore it.
   */
  prefetchBlobs(addrs: Buffer[]): Promise<void>;
  /** Which of `addrs` are stored. */
  hasBlobs(addrs: Buffer[]): Promise<boolean[]>;
  /** The length in bytes of each of `addrs` as stored (undefined for one not stored), without reading its bytes. */
  blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]>;
  /**
   * The newest event found among the stored events themselves, whatever the head
   * entry says (undefined when none is stored). {@link head} must equal it in a
   * sound store; {@link rebuildIndex} makes it so.
   */
  lastStoredEvent(): Promise<StoreHead | undefined>;
  /**
   * Replaces the whole secondary index and the head in one atomic write (a repair:
   * see src/journal/repair.ts). Blobs and events are not touched.
   * @throws TtjError READ_ONLY for readers; CORRUPT_EVENT when `head` is not the last stored event.
   */
  rebuildIndex(head: StoreHead, index: IndexEntry[]): Promise<void>;
  /**
   * The bytes of each blob, checked against its address (SHA-256). With
   * `verify: false` only the storage's own checksums are checked (zstd's frame
   * checksum for the embedded store): for hot read paths that are not proofs.
   * @throws TtjError CORRUPT_BLOB when one is missing, damaged or does not hash to its address.
   */
  getBlobs(addrs: Buffer[], opts?: { verify?: boolean }): Promise<Buffer[]>;
  /**
   * Like {@link getBlobs} without copies, for hot paths: `onBlob(i, data)` is called
   * once per address, in storage order; `data` is only valid during the call.
   */
  readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts?: { verify?: boolean }): Promise<void>;
  /**
   * Copies each blob's bytes into `target` (a buffer, or a file written at positions)
   * at offset `at[i]`: for serving reads (an NBD disk), where only the storage's own
   * checks apply (the default, as `verify: false`), and for folds, which check each blob
   * against its address and length (`verify`, `size`). Into a file, the threads that
   * decode blocks write the blobs themselves.
   * @throws TtjError CORRUPT_BLOB when one is missing, its storage is damaged, or (with
   * `verify`) it does not hash to its address or is not `size` bytes.
   */
  readBlobsInto(addrs: Buffer[], target: BlobTarget, at: number[], opts?: ReadIntoOptions): Promise<void>;
  /** Makes every append so far durable (for appends made with `sync: false`). */
  sync(): Promise<void>;
  /** Every stored blob address, in storage order (reading them back in this order is sequential). */
  listBlobs(): AsyncIterable<Buffer>;
  /**
   * Reads every stored blob back once, in storage order, each checked against its
   * address (verify --deep, grep): `onBlob(addr, data)` per blob, `data` only valid
   * during the call. Faster than {@link listBlobs} and {@link readBlobs}: no second lookup.
   * @throws TtjError CORRUPT_BLOB for the first one that is damaged or does not hash to its address.
   */
  readAllBlobs(onBlob: (addr: Buffer, data: Buffer) => void): Promise<void>;
  /**
   * The head each time it moves past `after` (a seq), as appends land, by this or another
   * process; without polling where the backend can be notified. Ends when `signal` aborts
   * or the store closes.
   */
  watchHead(after: number, opts?: { signal?: AbortSignal }): AsyncIterable<StoreHead>;
  /**
   * Removes blobs (a prune: src/journal/prune.ts), atomically, in the writer's turn
   * between appends: blobs an event appended after `opts.planHead` names are kept, so an
   * append that reused one never names a removed blob. Missing ones are skipped. The
   * space is given back by {@link compact}.
   * @throws TtjError READ_ONLY for readers.
   */
  removeBlobs(addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs>;
  /**
   * Gives back the space of removed blobs: storage holding no blob is deleted, storage
   * mostly dead has its live blobs copied first (each step atomic, between appends;
   * readers that had the old place retry). Safe to interrupt and to run again.
   * @throws TtjError READ_ONLY for readers.
   */
  compact(): Promise<CompactResult>;
  /**
   * For a writer: runs `handler` for requests of other processes (`ttj prune` asks the
   * live writer to prune): the embedded store over its reader socket, PostgreSQL on the
   * journal's request channel (docs/stores.md). Resolves once requests can arrive.
   * Optional: a backend without a channel to the writer leaves it out.
   */
  serveRequests?(handler: (name: string, args: unknown) => Promise<unknown>): void | Promise<void>;
  indexGet(key: string): Promise<Buffer | undefined>;
  indexRange(range: IndexRange): AsyncIterable<[string, Buffer]>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

export type { BlobTarget } from './blob-target.js';

/** Options of {@link JournalStore.readBlobsInto}. */
export interface ReadIntoOptions {
  /** Check each blob against its address (SHA-256), as {@link JournalStore.readBlobs} does. Default false. */
  verify?: boolean;
  /** With `verify`: the length every blob must have (a page or a disk block). Default: any. */
  size?: number;
}
