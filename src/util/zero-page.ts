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
