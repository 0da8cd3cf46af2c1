/**
 * The geometry of a journal disk. A disk's size is a whole number of 512-byte sectors
 * (as real disk images are; ISO images are whole 2048-byte sectors), not necessarily
 * of its block size: its block table then has one more, short, last block. That
 * block's content is still stored as a whole block (the disk's bytes, then zeroes
 * past the disk's end), so every disk blob is exactly one block; the bytes past the
 * disk's end are not part of the disk (fold writes and NBD serves exactly `size` bytes).
 */

/** The unit of a disk's size: a disk is a positive whole number of 512-byte sectors. */
export const DISK_SECTOR = 512;

/** True when `size` bytes is a valid disk size (a positive whole number of sectors). */
export function isDiskSize(size: number): boolean {
  return Number.isSafeInteger(size) && size > 0 && size % DISK_SECTOR === 0;
}

/** Entries of the block table of a disk of `size` bytes: the last block may be short. */
export function diskBlockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/**
 * The byte length of a disk write of `count` blocks from block `first`: whole blocks,
 * except that a write reaching the last block ends at the disk's end.
 */
export function diskWriteLength(size: number, blockSize: number, first: number, count: number): number {
  return Math.min(count * blockSize, size - first * blockSize);
}
