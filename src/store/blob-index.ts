/**
 * Where a journal's blobs are: their locations in the pack files, by blob key (`b/`
 * entries of the index), with a cache of recent locations and, for the writer, of
 * blobs just found missing.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { KvReader } from './kv.js';
import { BLOB_KEYS, blobKey } from './index-layout.js';
import { BLOCK_HEADER } from './block-codec.js';
import { blobLength, decodeLocation, type BlobLocation } from './pack-files.js';
import type { StoreStats } from './store.js';

/** Blob locations looked up per LevelDB getMany call (slices run in parallel). */
const LOOKUP_SLICE = 1024;
/** Blob locations kept in memory (most recently used; ~100 bytes each). */
const LOCATION_CACHE_ENTRIES = 65536;
/** Lookups of more keys than this (a fold's) bypass the caches: they would only churn them. */
const CACHED_LOOKUP_KEYS = 4096;

export class BlobIndex {
  /**
   * Recently appended or looked-up blob locations by blob key; entries are added only
   * once their LevelDB batch is written. A prune moves and deletes blobs: the writer
   * updates its entries as it does ({@link placed}, {@link forget}); a reader in another
   * process whose entry went stale finds the pack file gone and looks again (BlobReader).
   */
  private readonly locations = new Map<string, Buffer>();
  /**
   * Writer only: blob keys LevelDB was just asked for and did not have. Nobody else
   * appends, so an entry stays true until this store appends that blob (which removes
   * it). A writer that hashes a batch before appending it (an NBD group commit) asks
   * {@link hasBlobs} early, and the append then need not look them up again.
   */
  private readonly absent: Set<string> | undefined;

  /** @param writable this process is the journal's writer (the only one that appends). */
  constructor(
    private readonly kv: KvReader,
    writable: boolean,
  ) {
    this.absent = writable ? new Set() : undefined;
  }

  async hasBlobs(addrs: Buffer[]): Promise<boolean[]> {
    // Array.from: a lookup leaves holes for blobs it knows to be absent.
    return Array.from(await this.lookup(addrs.map(blobKey)), (v) => v !== undefined);
  }

  async prefetchBlobs(addrs: Buffer[]): Promise<void> {
    await this.lookup(addrs.map(blobKey));
  }

  async blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]> {
    return Array.from(await this.lookup(addrs.map(blobKey)), (v) => (v ? blobLength(decodeLocation(v)) : undefined));
  }

  /**
   * Each blob's location.
   * @throws TtjError CORRUPT_BLOB naming the first blob the store does not have.
   */
  async locate(addrs: Buffer[]): Promise<BlobLocation[]> {
    const locs = await this.lookup(addrs.map(blobKey));
    return locs.map((v, i) => {
      if (!v) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} is not in the store`, { addr: addrs[i]!.toString('hex') });
      return decodeLocation(v);
    });
  }

  /** Encoded locations by blob key: the cache first, then LevelDB (in parallel slices) for the rest. */
  async lookup(keys: string[]): Promise<(Buffer | undefined)[]> {
    const out = new Array<Buffer | undefined>(keys.length);
    const missing: number[] = [];
    const absent = this.absent;
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
    const cache = missKeys.length <= CACHED_LOOKUP_KEYS;
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

  /** Records the location of a blob just appended (once its index batch is written). */
  placed(key: string, location: Buffer): void {
    this.absent?.delete(key);
    this.remember(key, location);
  }

  /** Drops cached locations (blobs removed or moved, or found stale by a reader). */
  forget(keys: Iterable<string>): void {
    for (const k of keys) this.locations.delete(k);
  }

  /** Every blob's address, in storage order (pack, offset), so that reading them all back is sequential. */
  async *listBlobs(): AsyncIterable<Buffer> {
    yield* (await this.listLocated()).addrs;
  }

  /** Every blob's address and location, in storage order (pack, block offset, item offset). */
  async listLocated(): Promise<{ addrs: Buffer[]; locs: BlobLocation[] }> {
    const all: { addr: Buffer; loc: BlobLocation }[] = [];
    for await (const [k, v] of this.kv.range(BLOB_KEYS)) all.push({ addr: Buffer.from(k.slice(2), 'hex'), loc: decodeLocation(v) });
    all.sort((a, b) => a.loc.pack - b.loc.pack || a.loc.offset - b.loc.offset || a.loc.itemOff - b.loc.itemOff);
    return { addrs: all.map((b) => b.addr), locs: all.map((b) => b.loc) };
  }

  /** The store statistics counted from the blob locations themselves. */
  async countBlobs(): Promise<StoreStats> {
    const stats: StoreStats = { blobs: 0, rawBytes: 0, storedBytes: 0 };
    const blocks = new Set<string>();
    for await (const [, v] of this.kv.range(BLOB_KEYS)) {
      const l = decodeLocation(v);
      stats.blobs++;
      stats.rawBytes += blobLength(l);
      const block = `${l.pack}:${l.offset}`;
      if (!blocks.has(block)) {
        blocks.add(block);
        stats.storedBytes += BLOCK_HEADER + l.clen;
      }
    }
    return stats;
  }

  private remember(key: string, location: Buffer): void {
    const m = this.locations;
    if (m.size >= LOCATION_CACHE_ENTRIES) m.delete(m.keys().next().value as string);
    m.set(key, location);
  }
}
