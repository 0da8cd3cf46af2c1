/**
 * The page scanner: which pages of a guest RAM image are entirely zero, which
 * changed since the last epoch (by a 128-bit fingerprint per page, so the previous
 * image need not be kept), and SHA-256 content addresses of pages — in the N-API
 * addon (native/: AVX2, SHA-NI, both cores) when it loads, else in TypeScript with
 * identical results. See docs/native.md.
 *
 * Arguments are validated here before either implementation runs: a bad one is a
 * `TypeError` (a pfn or range beyond the buffer a `RangeError`).
 *
 * @module
 */
import { fallbackImpl } from './fallback.js';
import { loadNative } from './load.js';
import type { ScanResult, ScannerImpl } from './types.js';
import { checkBuffers, checkOut, checkPfns, checkRanges, checkScan } from './validate.js';

export type { ScanResult, ScannerImpl, NativeAddonInfo } from './types.js';
export { FINGERPRINT_VERSION } from './types.js';
export { fallbackImpl } from './fallback.js';

const loaded = loadNative();

/** The native implementation, when the addon loaded (else `undefined`). */
export const nativeImpl: ScannerImpl | undefined = loaded.impl;
/** The native implementation, when the addon loaded: the same object as {@link nativeImpl}. */
export const native: ScannerImpl | undefined = nativeImpl;
/** The TypeScript implementation: the same object as {@link fallbackImpl}. */
export const fallback: ScannerImpl = fallbackImpl;

const impl: ScannerImpl = nativeImpl ?? fallbackImpl;

/**
 * What {@link nativeInfo} reports (and `ttj doctor` shows). A type alias, not an
 * interface, so that it is assignable to a `{ [k: string]: unknown }` record.
 */
export type NativeInfo = {
  /** True when the addon is in use. */
  loaded: boolean;
  /** Why the addon is not in use. */
  reason?: string;
  /** Where SHA-256 runs: the x86 SHA extensions, the addon's portable C, or node:crypto (fallback). */
  sha: 'sha-ni' | 'portable' | 'node:crypto';
  /** Threads a large scan or hash is split across (1 for the fallback). */
  threads: number;
  /** The addon's path (also when it did not load). */
  path?: string;
  /** Where fingerprints are computed: AVX2, the addon's portable C, or TypeScript. */
  simd?: 'avx2' | 'portable' | 'typescript';
};

/** Whether the addon is in use, and how it hashes. */
export function nativeInfo(): NativeInfo {
  if (!loaded.impl) {
    const r: NativeInfo = { loaded: false, sha: 'node:crypto', threads: 1, simd: 'typescript' };
    if (loaded.reason !== undefined) r.reason = loaded.reason;
    if (loaded.path !== undefined) r.path = loaded.path;
    return r;
  }
  const i = loaded.impl.info();
  return { loaded: true, sha: i.sha, threads: i.threads, path: loaded.path!, simd: i.simd };
}

/**
 * Fingerprints every page of `buf` and compares with the previous fingerprints.
 *
 * @param buf - the image; its length must be a multiple of `pageSize`
 * @param pageSize - a power of two from 512 to 1 MiB
 * @param prev - the `fingerprints` of the previous scan of an image of the same size
 *   (16 bytes per page); without it every page is dirty
 * @returns the fingerprints, the dirty pages and the zero pages among them
 * @throws TypeError when an argument is not as described
 */
export function scanPages(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): ScanResult {
  checkScan(buf, pageSize, prev);
  return impl.scanPages(buf, pageSize, prev);
}

/**
 * {@link scanPages} off the JS thread: natively split across the cores, holding
 * references to `buf` and `prev` until it is done. The promise rejects if `buf`
 * or `prev` is detached (transferred) meanwhile; do not write to them meanwhile.
 *
 * @throws TypeError (synchronously) when an argument is not as described
 */
export function scanPagesAsync(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): Promise<ScanResult> {
  checkScan(buf, pageSize, prev);
  return impl.scanPagesAsync(buf, pageSize, prev);
}

/**
 * SHA-256 (FIPS 180-4, equal to node:crypto's) of each page `pfns[i]` of `buf`.
 *
 * @returns 32 bytes per pfn, in the order of `pfns`
 * @throws TypeError for a bad buffer, page size or pfns; RangeError for a pfn beyond the buffer
 */
export function sha256Pages(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Buffer {
  checkPfns(buf, pageSize, pfns);
  return impl.sha256Pages(buf, pageSize, pfns);
}

/**
 * {@link sha256Pages} off the JS thread (natively split across the cores); the
 * promise rejects if `buf` is detached meanwhile.
 *
 * @throws TypeError or RangeError (synchronously) as {@link sha256Pages}
 */
export function sha256PagesAsync(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Promise<Buffer> {
  checkPfns(buf, pageSize, pfns);
  return impl.sha256PagesAsync(buf, pageSize, pfns);
}

/**
 * SHA-256 of each byte range `[offsets[i], offsets[i] + lengths[i])` of `buf`.
 *
 * @returns 32 bytes per range
 * @throws TypeError for bad arguments; RangeError for a range beyond the buffer
 */
export function sha256Ranges(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): Buffer {
  checkRanges(buf, offsets, lengths);
  return impl.sha256Ranges(buf, offsets, lengths);
}

/**
 * SHA-256 of each whole buffer, off the JS thread in one job: for many small buffers
 * (disk blocks of several writes) one thread-pool hop instead of one per buffer. The
 * promise rejects if a buffer is detached meanwhile; do not write to them meanwhile.
 *
 * @returns 32 bytes per buffer, in order
 * @throws TypeError (synchronously) when `buffers` is not an array of Buffers or Uint8Arrays, or one is detached
 */
export function sha256BuffersAsync(buffers: Uint8Array[]): Promise<Buffer> {
  checkBuffers(buffers);
  return impl.sha256BuffersAsync(buffers);
}

/**
 * Copies the pages `pfns` of `buf` one after another into a staging buffer.
 *
 * @param out - where to copy (at least `pfns.length * pageSize` bytes); a new
 *   Buffer by default
 * @returns `out` (as a Buffer over the same memory) or the new Buffer
 * @throws TypeError for bad arguments or a too small `out`; RangeError for a pfn beyond the buffer
 */
export function gatherPages(buf: Uint8Array, pageSize: number, pfns: Uint32Array, out?: Uint8Array): Buffer {
  checkPfns(buf, pageSize, pfns);
  checkOut(out, pfns.length * pageSize);
  const r = impl.gatherPages(buf, pageSize, pfns, out);
  return Buffer.isBuffer(r) ? r : Buffer.from((r as Uint8Array).buffer, (r as Uint8Array).byteOffset, (r as Uint8Array).byteLength);
}
