import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCodes, TtjError } from '../../errors.js';
import type { ChangedPages } from '../../journal/image-diff.js';
import { readPages, scanFile } from '../../native/ram-file.js';

/** What one capture of the RAM file holds: the pages changed since the last capture accepted, and every page's fingerprint. */
export interface RamCapture extends ChangedPages {
  /** The fingerprints of every page at this capture (16 bytes a page). */
  fingerprints: Buffer;
}

/**
 * The VM's RAM file (QEMU's memory-backend-file), captured while the VM is paused
 * without copying it: every page is fingerprinted where it is (read in small chunks),
 * and only the pages whose fingerprint differs from the last accepted capture's (all
 * non-zero pages the first time) are read into a buffer of their own. So memory follows
 * the pages changed per epoch, not the RAM size (plus 16 bytes a page of fingerprints).
 */
export class RamFile {
  private prev: Buffer | undefined;
  private fh: FileHandle | undefined;

  constructor(
    readonly path: string,
    readonly size: number,
    readonly pageSize: number,
  ) {}

  /**
   * Captures the changed pages (the VM must be paused).
   * @throws TtjError QEMU_FAILED when the RAM file is missing or shorter than the guest RAM.
   */
  async capture(): Promise<RamCapture> {
    const fd = (await this.handle()).fd;
    try {
      const scan = await scanFile(fd, this.size, this.pageSize, this.prev);
      const pfns = withoutSorted(scan.dirty, scan.zero);
      const pages = Buffer.allocUnsafeSlow(pfns.length * this.pageSize);
      if (pfns.length) await readPages(fd, this.pageSize, pfns, pages);
      return { size: this.size, pfns, pages, zeroPfns: scan.zero, fingerprints: scan.fingerprints };
    } catch (e) {
      // A RAM file shorter than the guest RAM, or one that cannot be read.
      throw new TtjError(ErrorCodes.QEMU_FAILED, `RAM file ${this.path}: ${(e as Error).message}`, { path: this.path, expected: this.size }, { cause: e });
    }
  }

  /** The RAM file, opened at the first capture and kept open (no open and close in each pause). */
  private async handle(): Promise<FileHandle> {
    this.fh ??= await open(this.path, 'r').catch((e: Error) => {
      throw new TtjError(ErrorCodes.QEMU_FAILED, `cannot open the RAM file ${this.path}: ${e.message}`, { path: this.path }, { cause: e });
    });
    return this.fh;
  }

  /** Closes the RAM file (a later capture opens it again). */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  /** The capture is appended (or about to be): the next capture is compared with it. */
  accept(c: RamCapture): void {
    this.prev = c.fingerprints;
  }
}

/** The elements of ascending `xs` that are not in ascending `drop` (a subsequence of it). */
function withoutSorted(xs: Uint32Array, drop: Uint32Array): Uint32Array {
  const out = new Uint32Array(xs.length - drop.length);
  let j = 0;
  let k = 0;
  for (const x of xs) {
    if (j < drop.length && drop[j] === x) j++;
    else out[k++] = x;
  }
  return out;
}
