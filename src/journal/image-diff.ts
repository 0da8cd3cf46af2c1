import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { BlobPut } from '../store/store.js';
import { ADDR_LEN } from '../util/hash.js';
import { zeroPage } from '../util/zero-page.js';
import type { PageTable } from './page-table.js';
import { toTtjError } from '../errors.js';

/** Bytes read from an image at a time (bounds memory to the changed pages plus this). */
export const READ_CHUNK = 32 * 1024 * 1024;

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
}

/** Diffs whole pages of `chunk` (page `base` onwards) against `table` into `out`. */
function diffPages(chunk: Buffer, base: number, pageSize: number, table: PageTable | undefined, out: ImageDiff): void {
  const zero = zeroPage(pageSize);
  const pages = Math.floor(chunk.length / pageSize);
  for (let i = 0; i < pages; i++) {
    const page = chunk.subarray(i * pageSize, (i + 1) * pageSize);
    const pfn = base + i;
    if (page.equals(zero)) {
      if (table && !table.isZero(pfn)) out.zeroPfns.push(pfn);
      continue;
    }
    const addr = createHash('sha256').update(page).digest();
    if (table && table.get(pfn).equals(addr)) continue;
    out.pfns.push(pfn);
    out.addrs.push(addr);
    out.blobs.push({ addr, data: Buffer.from(page) });
  }
}

/**
 * Compares an image (a file, read in chunks, or a buffer) page by page with `table`
 * (the head state) by SHA-256 content address. Zero pages are found by memcmp and
 * never hashed or stored.
 */
export async function diffImage(source: string | Buffer, pageSize: number, table: PageTable | undefined, onProgress?: (done: number) => void): Promise<ImageDiff> {
  const out: ImageDiff = { pfns: [], addrs: [], zeroPfns: [], blobs: [], scanned: 0 };
  if (Buffer.isBuffer(source)) {
    diffPages(source, 0, pageSize, table, out);
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
      diffPages(chunk.subarray(0, bytesRead), pos / pageSize, pageSize, table, out);
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

/** Concatenates addresses for a PageBatch/DiskWrite `addrs` field. */
export function joinAddrs(addrs: Buffer[]): Buffer {
  return addrs.length ? Buffer.concat(addrs, addrs.length * ADDR_LEN) : Buffer.alloc(0);
}
