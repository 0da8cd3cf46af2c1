/**
 * Bytes `[from, to)` of the concatenation of `buffers`, as views of them (whole buffers
 * where they fit entirely): no copy.
 */
export function sliceBuffers<T extends Uint8Array>(buffers: readonly T[], from: number, to: number): T[] {
  const out: T[] = [];
  let at = 0;
  for (const b of buffers) {
    if (at >= to) break;
    const a = Math.max(from, at);
    const e = Math.min(to, at + b.length);
    if (a < e) out.push(a === at && e === at + b.length ? b : (b.subarray(a - at, e - at) as T));
    at += b.length;
  }
  return out;
}
