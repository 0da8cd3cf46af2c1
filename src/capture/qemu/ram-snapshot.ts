import { open } from 'node:fs/promises';

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

/** Copies the RAM file into `buf` (the VM must be paused). */
export async function readRam(path: string, buf: Buffer): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, Math.min(64 << 20, buf.length - off), off);
      if (bytesRead === 0) throw new Error(`RAM file ${path} is shorter than the guest RAM`);
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
}
