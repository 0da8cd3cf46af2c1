/**
 * An encrypted journal's store: any backend's store seen through the journal's cipher
 * (./cipher.ts; docs/format.md, "Encryption"). Above it the journal sees plain event
 * bytes, SHA-256 content addresses and plain index values, exactly as in a plain
 * journal; below it the backend keeps
 *
 * - each event sealed (AES-256-GCM), bound to its seq;
 * - each secondary index value sealed, bound to its key; the keys stay readable (they
 *   order the index) but for label texts, which a keyed hash stands for (./sealed-index.ts);
 * - each blob under its keyed address (a keyed permutation of its SHA-256), its bytes in
 *   blocks the backend seals itself (the backend is opened with the same cipher,
 *   ./block-codec.ts), compressed before they are sealed.
 *
 * The head hash above is the SHA-256 of the head event's plain bytes (what the hash
 * chain and `ttj log` name); the backend's own head hash is that of the sealed bytes.
 */
import { createHash } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import type { JournalCipher } from './cipher.js';
import type { JournalKeySource } from './journal-key.js';
import { SealedIndex } from './sealed-index.js';
import type { AppendBatch, AppendResult, CompactResult, IndexEntry, IndexRange, JournalStore, BlobTarget, ReadIntoOptions, RemoveBlobsOptions, RemovedBlobs, StoreHead, StoreStats, StoredEvent } from './store.js';

const eventPlace = (seq: number) => `event ${seq}`;
/** Addresses turned back at a time when listing blobs. */
const LIST_BATCH = 1024;

/** A store whose bytes are sealed with a journal's cipher (see the module comment); made by `openStore` for an encrypted journal. */
export class EncryptedStore implements JournalStore {
  /** The last head turned into its plain form: the backend's seq and hash, and the plain hash. */
  private known: { seq: number; sealed: Buffer; plain: Buffer } | undefined;

  private readonly cipher: JournalCipher;

  private readonly index: SealedIndex;

  constructor(
    private readonly inner: JournalStore,
    /** The journal's key file and ciphers (a replica is opened with them: push). */
    readonly key: JournalKeySource,
  ) {
    this.cipher = key.cipher;
    this.index = new SealedIndex(key.cipher, inner);
  }

  get location(): string {
    return this.inner.location;
  }

  get writable(): boolean {
    return this.inner.writable;
  }

  /** The plain head of the backend's head `h`: the SHA-256 of its event's plain bytes. */
  private async plainHead(h: StoreHead | undefined): Promise<StoreHead | undefined> {
    if (!h) return undefined;
    const k = this.known;
    if (k && k.seq === h.seq && k.sealed.equals(h.hash)) return { seq: h.seq, hash: k.plain };
    let plain: Buffer | undefined;
    for await (const e of this.inner.readEvents(h.seq, h.seq + 1)) plain = sha256(this.openEvent(e));
    if (!plain) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${h.seq} is missing from the store`, { seq: h.seq });
    this.known = { seq: h.seq, sealed: h.hash, plain };
    return { seq: h.seq, hash: plain };
  }

  private openEvent(e: StoredEvent): Buffer {
    return this.cipher.open(e.bytes, eventPlace(e.seq), { seq: e.seq }, ErrorCodes.CORRUPT_EVENT);
  }

  async head(): Promise<StoreHead | undefined> {
    return this.plainHead(await this.inner.head());
  }

  async lastStoredEvent(): Promise<StoreHead | undefined> {
    return this.plainHead(await this.inner.lastStoredEvent());
  }

  async append(batch: AppendBatch): Promise<AppendResult> {
    const first = batch.expectedHead + 1;
    const events = batch.events.map((e, i) => this.cipher.sealOne(e, eventPlace(first + i)));
    const blobs = batch.blobs && this.cipher.storedAddrs(batch.blobs.map((b) => b.addr)).map((addr, i) => ({ addr, data: batch.blobs![i]!.data }));
    const index = batch.index;
    const sealedIndex = typeof index === 'function' ? (w: Parameters<typeof index>[0]) => this.index.seal(index(w)) : index && this.index.seal(index);
    const relies = batch.relies && this.cipher.storedAddrs(batch.relies);
    const r = await this.inner.append({ ...batch, events, blobs, relies, index: sealedIndex });
    const last = batch.events[batch.events.length - 1];
    if (last) this.known = { seq: r.head.seq, sealed: r.head.hash, plain: sha256(last) };
    return { ...r, head: (await this.plainHead(r.head))! };
  }

  async *readEventBatches(from: number, to?: number, batchSize?: number): AsyncIterable<StoredEvent[]> {
    for await (const b of this.inner.readEventBatches(from, to, batchSize)) yield b.map((e) => ({ seq: e.seq, bytes: this.openEvent(e) }));
  }

  async *readEvents(from: number, to?: number): AsyncIterable<StoredEvent> {
    for await (const b of this.readEventBatches(from, to)) yield* b;
  }

  prefetchBlobs(addrs: Buffer[]): Promise<void> {
    return this.inner.prefetchBlobs(this.cipher.storedAddrs(addrs));
  }

  hasBlobs(addrs: Buffer[]): Promise<boolean[]> {
    return this.inner.hasBlobs(this.cipher.storedAddrs(addrs));
  }

  blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]> {
    return this.inner.blobSizes(this.cipher.storedAddrs(addrs));
  }

  /**
   * @throws TtjError CORRUPT_EVENT when `head` is not the last stored event; READ_ONLY for readers.
   */
  async rebuildIndex(head: StoreHead, index: IndexEntry[]): Promise<void> {
    const sealed = await this.inner.lastStoredEvent();
    const last = await this.plainHead(sealed);
    if (!sealed || !last || last.seq !== head.seq || !last.hash.equals(head.hash)) {
      throw new TtjError(ErrorCodes.CORRUPT_EVENT, `the head given (seq ${head.seq}) is not the last stored event`, { expected: last?.seq ?? -1, actual: head.seq });
    }
    await this.inner.rebuildIndex(sealed, this.index.seal(index));
  }

  async getBlobs(addrs: Buffer[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    const out: Buffer[] = new Array(addrs.length);
    await this.readBlobs(addrs, (i, data) => (out[i] = Buffer.from(data)), opts);
    return out;
  }

  /**
   * Blocks are authenticated as they are opened; with `verify` (the default) the backend
   * also checks that each blob hashes to its address (made keyed with the same cipher:
   * the permutation is one to one, so that is its content address).
   */
  readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts: { verify?: boolean } = {}): Promise<void> {
    return this.inner.readBlobs(this.cipher.storedAddrs(addrs), onBlob, opts);
  }

  readBlobsInto(addrs: Buffer[], target: BlobTarget, at: number[], opts?: ReadIntoOptions): Promise<void> {
    return this.inner.readBlobsInto(this.cipher.storedAddrs(addrs), target, at, opts);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  async *listBlobs(): AsyncIterable<Buffer> {
    for await (const batch of this.listBatches()) yield* this.cipher.plainAddrs(batch);
  }

  async *watchHead(after: number, opts?: { signal?: AbortSignal }): AsyncIterable<StoreHead> {
    for await (const h of this.inner.watchHead(after, opts)) yield (await this.plainHead(h))!;
  }

  /**
   * Every blob read back by the backend (checked against its keyed address), named by its
   * content address. The addresses are listed and turned back first, in batches (one at a
   * time costs about as much as a whole batch of them); one not listed then (appended
   * meanwhile) is turned back alone.
   */
  async readAllBlobs(onBlob: (addr: Buffer, data: Buffer) => void): Promise<void> {
    const plainOf = new Map<string, Buffer>();
    for await (const stored of this.listBatches()) this.cipher.plainAddrs(stored).forEach((p, i) => plainOf.set(stored[i]!.toString('latin1'), p));
    await this.inner.readAllBlobs((addr, data) => onBlob(plainOf.get(addr.toString('latin1')) ?? this.cipher.plainAddrs([addr])[0]!, data));
  }

  /** The backend's blob addresses, in batches. */
  private async *listBatches(): AsyncIterable<Buffer[]> {
    let batch: Buffer[] = [];
    for await (const a of this.inner.listBlobs()) {
      batch.push(a);
      if (batch.length >= LIST_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  /** The backend removes the blobs by their keyed addresses; events appended since the plan are opened to see what they name. */
  removeBlobs(addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs> {
    return this.inner.removeBlobs(this.cipher.storedAddrs(addrs), {
      planHead: opts.planHead,
      named: (e) => this.cipher.storedAddrs(opts.named({ seq: e.seq, bytes: this.openEvent(e) })),
    });
  }

  /** Blocks copied by a compaction are sealed again by the backend (it holds the same cipher). */
  compact(): Promise<CompactResult> {
    return this.inner.compact();
  }

  serveRequests(handler: (name: string, args: unknown) => Promise<unknown>): void | Promise<void> {
    return this.inner.serveRequests?.(handler);
  }

  indexGet(key: string): Promise<Buffer | undefined> {
    return this.index.get(key);
  }

  indexRange(range: IndexRange): AsyncIterable<[string, Buffer]> {
    return this.index.range(range);
  }

  stats(): Promise<StoreStats> {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}
