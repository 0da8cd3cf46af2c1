const cache = new Map<number, Buffer>();

/** A shared, read-only all-zero buffer of `size` bytes (cached per size). */
export function zeroPage(size: number): Buffer {
  let z = cache.get(size);
  if (!z) {
    z = Buffer.alloc(size);
    cache.set(size, z);
  }
  return z;
}

/** Fast all-zero test of one page using memcmp against a cached zero page. */
export function isZeroPage(page: Buffer): boolean {
  return page.equals(zeroPage(page.length));
}
