import { open } from 'node:fs/promises';
import { ErrorCodes, TtjError } from '../../errors.js';

/**
 * A small pool of buffers the size of guest RAM: the VM's RAM file is copied into
 * one while the VM is paused, and it is released once the epoch is appended. With
 * two buffers, capture of the next epoch overlaps the append of the last; when both
 * are busy, capture waits (backpressure) instead of growing memory.
 */
export class RamSnapshots {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((b: Buffer) => void)[] = [];

  constructor(size: number, count = 2) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafe(size));
  }

  acquire(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    return new Promise((r) => this.waiters.push(r));
  }

  release(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) w(b);
    else this.free.push(b);
  }
}

/** Copies the RAM file into `buf` (the VM must be paused), in parallel slices on the thread pool. */
export async function readRam(path: string, buf: Buffer, slices = 4): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const per = Math.ceil(buf.length / slices / 4096) * 4096;
    await Promise.all(
      Array.from({ length: slices }, async (_, k) => {
        const start = k * per;
        const end = Math.min(buf.length, start + per);
        for (let off = start; off < end;) {
          const { bytesRead } = await fh.read(buf, off, end - off, off);
          if (bytesRead === 0) throw new TtjError(ErrorCodes.QEMU_FAILED, `RAM file ${path} is shorter than the guest RAM`, { path, expected: buf.length, actual: off });
          off += bytesRead;
        }
      }),
    );
  } finally {
    await fh.close();
  }
}
