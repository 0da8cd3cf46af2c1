import { ErrorCodes, TtjError } from '../errors.js';
import type { Journal } from './journal.js';
import type { PageTable } from './page-table.js';

/**
 * The bytes of entries `first`..`first + count - 1` of a page table (memory pages or
 * disk blocks of `entrySize` bytes; an absent table is all zero), read from the store
 * and checked against their addresses; cut at `size`, the memory's or disk's size (a
 * disk's short last block ends at the disk's end).
 * @throws TtjError CORRUPT_BLOB.
 */
export async function entryBytes(j: Journal, table: PageTable | undefined, entrySize: number, size: number, first: number, count: number): Promise<Buffer> {
  const out = Buffer.alloc(count * entrySize);
  const where: number[] = [];
  const addrs: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    if (!table || table.isZero(first + k)) continue;
    where.push(k);
    addrs.push(table.get(first + k));
  }
  if (addrs.length) {
    const blobs = await j.blobs(addrs);
    blobs.forEach((b, i) => {
      if (b.length !== entrySize) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} is ${b.length} bytes, not a ${entrySize}-byte page or block`, { addr: addrs[i]!.toString('hex') });
      b.copy(out, where[i]! * entrySize);
    });
  }
  return out.subarray(0, Math.max(0, Math.min(out.length, size - first * entrySize)));
}
