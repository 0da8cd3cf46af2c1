import { open } from 'node:fs/promises';
import type { BlobPut } from '../store/store.js';
import { ADDR_LEN } from '../util/hash.js';
import { scanPagesAsync, sha256PagesAsync } from '../native/index.js';
import type { PageTable } from './page-table.js';
import { toTtjError } from '../errors.js';
import { zeroPage } from '../util/zero-page.js';

/** Bytes read from an image at a time (bounds memory to the changed pages plus this). */
const READ_CHUNK = 32 * 1024 * 1024;

/** The pages of an image that differ from a table. */
export interface ImageDiff {
  /** Changed non-zero pages (ascending) and their addresses. */
  pfns: number[];
  addrs: Buffer[];
  /** Pages that became zero. */
  zeroPfns: number[];
  /** The bytes of the changed non-zero pages (deduplicated by the store). */
  blobs: BlobPut[];
  /** Bytes scanned. */
  scanned: number;
  /** Page fingerprints of the image (for a buffer source): the `prevFingerprints` of the next diff. */
  fingerprints?: Buffer;
}

/**
 * Diffs whole pages of `chunk` (page `base` onwards) against `table` into `out`: the
 * page scanner finds zero pages and, given the previous fingerprints, the pages that
 * may have changed; only those are SHA-256 hashed (natively, on both cores).
 */
async function diffPages(chunk: Buffer, base: number, pageSize: number, table: PageTable | undefined, out: ImageDiff, prevFingerprints?: Buffer): Promise<Buffer> {
  const whole = padToPages(chunk, pageSize);
  const scan = await scanPagesAsync(whole, pageSize, prevFingerprints ?? null);
  const zero = new Set(scan.zero);
  const nonZero = Uint32Array.from(scan.dirty.filter((p) => !zero.has(p)));
  const hashes = await sha256PagesAsync(whole, pageSize, nonZero);
  let k = 0;
  for (const i of scan.dirty) {
    const pfn = base + i;
    if (zero.has(i)) {
      if (table && !table.isZero(pfn)) out.zeroPfns.push(pfn);
      continue;
    }
    const addr = hashes.subarray(k * ADDR_LEN, (k + 1) * ADDR_LEN);
    k++;
    if (table && table.get(pfn).equals(addr)) continue;
    out.pfns.push(pfn);
    out.addrs.push(Buffer.from(addr));
    out.blobs.push({ addr: Buffer.from(addr), data: Buffer.from(whole.subarray(i * pageSize, (i + 1) * pageSize)) });
  }
  return scan.fingerprints;
}

/**
 * `chunk` as whole pages: a short last page (a disk image that is not a whole number
 * of blocks) is padded with zeroes, the way a disk's short last block is stored.
 */
function padToPages(chunk: Buffer, pageSize: number): Buffer {
  const tail = chunk.length % pageSize;
  return tail ? Buffer.concat([chunk, zeroPage(pageSize - tail)]) : chunk;
}

/**
 * Compares an image (a file, read in chunks, or a buffer) page by page with `table`
 * (the head state) by SHA-256 content address. Zero pages are never hashed or stored.
 * An image that ends inside a page is compared as if padded with zeroes to a whole page.
 * For a buffer, `prevFingerprints` (from the previous diff of the same memory, whose
 * result the table holds) limits hashing to the pages whose fingerprint changed.
 */
export async function diffImage(source: string | Buffer, pageSize: number, table: PageTable | undefined, onProgress?: (done: number) => void, prevFingerprints?: Buffer): Promise<ImageDiff> {
  const out: ImageDiff = { pfns: [], addrs: [], zeroPfns: [], blobs: [], scanned: 0 };
  if (Buffer.isBuffer(source)) {
    out.fingerprints = await diffPages(source, 0, pageSize, table, out, prevFingerprints);
    out.scanned = source.length;
    onProgress?.(source.length);
    return out;
  }
  let fh;
  try {
    fh = await open(source, 'r');
  } catch (e) {
    throw toTtjError(e, { path: source });
  }
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, READ_CHUNK, pos);
      if (bytesRead === 0) break;
      // The image's short last page, padded in place (READ_CHUNK is a whole number of pages).
      const padded = Math.ceil(bytesRead / pageSize) * pageSize;
      chunk.fill(0, bytesRead, padded);
      await diffPages(chunk.subarray(0, padded), pos / pageSize, pageSize, table, out);
      pos += bytesRead;
      out.scanned = pos;
      onProgress?.(pos);
      if (bytesRead < READ_CHUNK) break;
    }
  } finally {
    await fh.close();
  }
  return out;
}

/**
 * The pages of guest memory that may have changed since the head, found by the caller
 * (`ttj record` scans the RAM file's fingerprints while the VM is paused and reads only
 * these pages): every page not listed is unchanged since the head's memory.
 */
export interface ChangedPages {
  /** The memory's size in bytes. */
  size: number;
  /** Pages that may have changed to non-zero content, ascending. */
  pfns: Uint32Array;
  /** Their bytes, one page after another (`pfns.length` pages). */
  pages: Buffer;
  /** Pages that may have become zero, ascending. */
  zeroPfns: Uint32Array;
}

/**
 * Diffs {@link ChangedPages} against `table` (the head state): the listed pages are
 * SHA-256 hashed (natively, on both cores) and kept where their address differs. The
 * blobs are views of `changed.pages` (not copies).
 */
export async function diffChangedPages(changed: ChangedPages, pageSize: number, table: PageTable | undefined): Promise<ImageDiff> {
  const out: ImageDiff = { pfns: [], addrs: [], zeroPfns: [], blobs: [], scanned: changed.size };
  const n = changed.pfns.length;
  const hashes = await sha256PagesAsync(
    changed.pages.subarray(0, n * pageSize),
    pageSize,
    Uint32Array.from({ length: n }, (_, i) => i),
  );
  for (let k = 0; k < n; k++) {
    const pfn = changed.pfns[k]!;
    const addr = hashes.subarray(k * ADDR_LEN, (k + 1) * ADDR_LEN);
    if (table && table.get(pfn).equals(addr)) continue;
    out.pfns.push(pfn);
    out.addrs.push(Buffer.from(addr));
    out.blobs.push({ addr: Buffer.from(addr), data: changed.pages.subarray(k * pageSize, (k + 1) * pageSize) });
  }
  for (const pfn of changed.zeroPfns) if (table && !table.isZero(pfn)) out.zeroPfns.push(pfn);
  return out;
}

/** Concatenates addresses for a PageBatch/DiskWrite `addrs` field. */
export function joinAddrs(addrs: Buffer[]): Buffer {
  return addrs.length ? Buffer.concat(addrs, addrs.length * ADDR_LEN) : Buffer.alloc(0);
}
