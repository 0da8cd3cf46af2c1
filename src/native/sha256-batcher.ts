/**
 * SHA-256 of many small requests as few native jobs: the buffers asked for within one
 * turn of the event loop are hashed by one {@link sha256BuffersAsync} call (spread over
 * the cores when large). On a machine with few cores every job handed to a worker
 * thread wakes that thread, which can take the CPU from the JS thread; one job per
 * turn instead of one per request keeps the JS thread running.
 *
 * @module
 */
import { sha256BuffersAsync } from './index.js';

interface Waiting {
  count: number;
  resolve(hashes: Buffer): void;
  reject(e: unknown): void;
}

export class Sha256Batcher {
  private buffers: Uint8Array[] = [];
  private waiting: Waiting[] = [];
  private scheduled = false;

  /** The SHA-256 of each buffer, 32 bytes each, in order (hashed with the others asked for in this turn). */
  hash(buffers: Uint8Array[]): Promise<Buffer> {
    if (buffers.length === 0) return Promise.resolve(Buffer.alloc(0));
    return new Promise<Buffer>((resolve, reject) => {
      this.buffers.push(...buffers);
      this.waiting.push({ count: buffers.length, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  private run(): void {
    const buffers = this.buffers;
    const waiting = this.waiting;
    this.buffers = [];
    this.waiting = [];
    this.scheduled = false;
    let job: Promise<Buffer>;
    try {
      job = sha256BuffersAsync(buffers);
    } catch (e) {
      job = Promise.reject(e);
    }
    job.then(
      (hashes) => {
        let at = 0;
        for (const w of waiting) {
          w.resolve(hashes.subarray(at * 32, (at + w.count) * 32));
          at += w.count;
        }
      },
      (e: unknown) => {
        for (const w of waiting) w.reject(e);
      },
    );
  }
}
