import type { FileHandle } from 'node:fs/promises';

/** Bytes copied per read and write. */
const CHUNK = 8 << 20;

/**
 * Copies `size` bytes of `from` at `fromPos` into `to` at `toPos`, a chunk at a time
 * (one reused buffer). A source shorter than asked is zero-filled (a folded memory is
 * never short; this keeps the output's layout whatever happens).
 */
export async function copyRange(from: FileHandle, fromPos: number, to: FileHandle, toPos: number, size: number): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
  for (let done = 0; done < size;) {
    const n = Math.min(buf.length, size - done);
    const { bytesRead } = await from.read(buf, 0, n, fromPos + done);
    buf.fill(0, bytesRead, n);
    await to.write(buf, 0, n, toPos + done);
    done += n;
  }
}
