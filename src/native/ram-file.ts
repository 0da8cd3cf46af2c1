/**
 * A guest's RAM file (QEMU's memory-backend-file) scanned and read where it is, so
 * that `ttj record` never holds a copy of the whole RAM: {@link scanFile} fingerprints
 * every page of the file (the page scanner's fingerprints, read in small chunks), and
 * {@link readPages} reads only the pages asked for. In the native addon (split across
 * the cores) when it loads, else in TypeScript with identical results.
 *
 * @module
 */
import { fallbackImpl } from './fallback.js';
import { loadNative } from './load.js';
import type { ScanResult } from './types.js';
import { checkRamFileRead, checkRamFileScan } from './validate.js';
import { pread } from '../util/positional-io.js';
import { ErrorCodes, TtjError } from '../errors.js';

/** One implementation of the RAM file calls (the addon, or the TypeScript fallback). */
export interface RamFileImpl {
  /** Fingerprints every page of the file's first `size` bytes; the same result as `scanPages` of those bytes. */
  scanFile(fd: number, size: number, pageSize: number, prev?: Uint8Array | null): Promise<ScanResult>;
  /** Reads pages `pfns` of the file one after another into `out`; resolves to `out`. */
  readPages(fd: number, pageSize: number, pfns: Uint32Array, out: Uint8Array): Promise<Uint8Array>;
}

/** Bytes the fallback reads at a time. */
const FALLBACK_CHUNK = 8 << 20;

/** Reads exactly `len` bytes at `pos` into `buf` at `off`. */
async function readFully(fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<void> {
  for (let done = 0; done < len;) {
    const n = await pread(fd, buf, off + done, len - done, pos + done);
    if (n === 0) throw new TtjError(ErrorCodes.SIZE_MISMATCH, 'reading the RAM file: the file is shorter than expected', { expected: pos + len, actual: pos + done });
    done += n;
  }
}

/** The TypeScript implementation: `pread` in chunks and the fallback page scanner. */
export const ramFileFallback: RamFileImpl = {
  async scanFile(fd, size, pageSize, prev) {
    const pages = size / pageSize;
    const fingerprints = Buffer.alloc(pages * 16);
    const dirty: number[] = [];
    const zero: number[] = [];
    const per = Math.max(1, Math.floor(FALLBACK_CHUNK / pageSize));
    const chunk = Buffer.allocUnsafe(Math.min(per, pages) * pageSize);
    for (let p = 0; p < pages; p += per) {
      const n = Math.min(per, pages - p);
      await readFully(fd, chunk, 0, n * pageSize, p * pageSize);
      const r = fallbackImpl.scanPages(chunk.subarray(0, n * pageSize), pageSize, prev ? prev.subarray(p * 16, (p + n) * 16) : null);
      r.fingerprints.copy(fingerprints, p * 16);
      for (const i of r.dirty) dirty.push(p + i);
      for (const i of r.zero) zero.push(p + i);
    }
    return { fingerprints, dirty: Uint32Array.from(dirty), zero: Uint32Array.from(zero) };
  },
  async readPages(fd, pageSize, pfns, out) {
    for (let i = 0; i < pfns.length;) {
      let j = i + 1;
      while (j < pfns.length && pfns[j] === pfns[j - 1]! + 1) j++;
      await readFully(fd, out, i * pageSize, (j - i) * pageSize, pfns[i]! * pageSize);
      i = j;
    }
    return out;
  },
};

const addon = loadNative().impl;

/** The addon's RAM file calls, when it loaded. */
export const ramFileNative: RamFileImpl | undefined = addon && {
  scanFile: (fd, size, pageSize, prev) => addon.scanFileAsync(fd, size, pageSize, prev ?? null),
  readPages: (fd, pageSize, pfns, out) => addon.readPagesAsync(fd, pageSize, pfns, out),
};

const impl = ramFileNative ?? ramFileFallback;

/**
 * Fingerprints every page of the first `size` bytes of the open file `fd` and compares
 * them with `prev`: the same {@link ScanResult} as `scanPages` of those bytes, without
 * holding them (read in chunks of a few MiB). Do not close `fd` meanwhile.
 *
 * @throws TypeError (synchronously) for a bad argument; the promise rejects when the
 *   file is shorter than `size` or cannot be read
 */
export function scanFile(fd: number, size: number, pageSize: number, prev?: Uint8Array | null): Promise<ScanResult> {
  checkRamFileScan(fd, size, pageSize, prev);
  return impl.scanFile(fd, size, pageSize, prev);
}

/**
 * Reads pages `pfns` of the open file `fd` one after another into `out` (at least
 * `pfns.length * pageSize` bytes); runs of consecutive pages are read at once.
 *
 * @returns `out`
 * @throws TypeError (synchronously) for a bad argument; the promise rejects when a
 *   page is beyond the end of the file or cannot be read
 */
export function readPages(fd: number, pageSize: number, pfns: Uint32Array, out: Buffer): Promise<Buffer> {
  checkRamFileRead(fd, pageSize, pfns, out);
  return impl.readPages(fd, pageSize, pfns, out).then(() => out);
}
