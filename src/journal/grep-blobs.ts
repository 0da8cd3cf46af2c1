import { ZERO_ADDR } from '../util/hash.js';
import type { PatternMatcher } from './grep-pattern.js';
import type { Journal } from './journal.js';

/** Blob addresses read per `readBlobs` call of the scan. */
const SCAN_BATCH = 32768;

/**
 * What the scan found in the stored blobs, by hex address: the offsets of the pattern in
 * each blob that holds it, and the blobs whose edges hold a piece of it (see
 * {@link PatternMatcher.tail} and {@link PatternMatcher.head}). The zero page, never
 * stored, has its edges here too.
 */
export interface BlobMatches {
  inBlob: Map<string, number[]>;
  tails: Map<string, number[]>;
  heads: Map<string, Set<number>>;
  /** Blobs searched and their bytes (distinct content: each stored blob once). */
  blobs: number;
  bytes: number;
}

/** The hex address of the all-zero page or block (never stored). */
const ZERO_KEY = ZERO_ADDR.toString('hex');

/**
 * Searches every stored blob whose size is one of `sizes` (the page size, the disk
 * block sizes) once, in storage order, so that each pack block is read and
 * decompressed once: cost grows with the distinct content stored, not with history.
 * The store's own checks apply (zstd's frame checksums); with `verify` every blob is also
 * re-hashed against its address (as `ttj verify --deep` does).
 * @throws TtjError CORRUPT_BLOB.
 */
export async function scanBlobs(j: Journal, m: PatternMatcher, sizes: Set<number>, opts: { verify?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<BlobMatches> {
  const r: BlobMatches = { inBlob: new Map(), tails: new Map(), heads: new Map(), blobs: 0, bytes: 0 };
  const zero = Buffer.alloc(m.length);
  if (m.tail(zero).length) r.tails.set(ZERO_KEY, m.tail(zero));
  if (m.head(zero).length) r.heads.set(ZERO_KEY, new Set(m.head(zero)));
  const addrs: Buffer[] = [];
  for await (const a of j.listBlobs()) addrs.push(a);
  for (let i = 0; i < addrs.length; i += SCAN_BATCH) {
    const batch = addrs.slice(i, i + SCAN_BATCH);
    await j.readBlobs(
      batch,
      (k, data) => {
        if (!sizes.has(data.length)) return;
        r.blobs++;
        r.bytes += data.length;
        const found = m.matches(data);
        const t = m.tail(data);
        const h = m.head(data);
        if (!found.length && !t.length && !h.length) return;
        const key = batch[k]!.toString('hex');
        if (found.length) r.inBlob.set(key, found);
        if (t.length) r.tails.set(key, t);
        if (h.length) r.heads.set(key, new Set(h));
      },
      { verify: opts.verify ?? false },
    );
    opts.onProgress?.(Math.min(i + SCAN_BATCH, addrs.length), addrs.length);
  }
  return r;
}
