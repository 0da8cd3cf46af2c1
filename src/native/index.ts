/**
 * The page scanner: which pages of a guest image are zero, which changed since the
 * last epoch (by a 128-bit fingerprint per page, so the previous image need not be
 * kept), and SHA-256 content addresses of pages — in the N-API addon (native/, both
 * cores, SHA-NI) when it loads, else in TypeScript with identical results.
 * Arguments are validated here; a bad one is a TypeError (RangeError for a pfn
 * beyond the buffer).
 */
import { fallbackImpl } from './fallback.js';
import { loadNative } from './load.js';
import type { ScanResult, ScannerImpl } from './types.js';

export type { ScanResult, ScannerImpl } from './types.js';
export { fallbackImpl } from './fallback.js';

const loaded = loadNative();
/** The native implementation, when the addon loaded. */
export const nativeImpl: ScannerImpl | undefined = loaded.impl;
const impl: ScannerImpl = nativeImpl ?? fallbackImpl;

/** What `ttj doctor` reports. */
export function nativeInfo(): { loaded: boolean; reason?: string; sha: 'sha-ni' | 'portable' | 'node:crypto'; threads: number; path?: string } {
  if (!loaded.impl) return { loaded: false, reason: loaded.reason, sha: 'node:crypto', threads: 1, path: loaded.path };
  const i = loaded.impl.info();
  return { loaded: true, sha: i.sha as 'sha-ni' | 'portable', threads: i.threads, path: loaded.path };
}

function checkBuffer(buf: unknown, name = 'buffer'): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`${name} must be a Buffer or Uint8Array`);
}

function checkScan(buf: unknown, pageSize: unknown, prev: unknown): void {
  checkBuffer(buf);
  checkPageSize(pageSize);
  if (buf.byteLength % pageSize !== 0) throw new TypeError(`buffer length ${buf.byteLength} is not a multiple of the page size ${pageSize}`);
  if (prev !== undefined && prev !== null) {
    checkBuffer(prev, 'prev');
    if (prev.byteLength !== (buf.byteLength / pageSize) * 16) throw new TypeError('prev must hold 16 bytes per page');
  }
}

function checkPageSize(pageSize: unknown): asserts pageSize is number {
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 512 || pageSize > 1 << 20 || (pageSize & (pageSize - 1)) !== 0) {
    throw new TypeError(`page size ${String(pageSize)} is not a power of two from 512 to 1048576`);
  }
}

function checkPfns(buf: unknown, pageSize: unknown, pfns: unknown): void {
  checkBuffer(buf);
  checkPageSize(pageSize);
  if (!(pfns instanceof Uint32Array)) throw new TypeError('pfns must be a Uint32Array');
  const pages = Math.floor(buf.byteLength / pageSize);
  for (const p of pfns) if (p >= pages) throw new RangeError(`pfn ${p} is beyond the buffer (${pages} pages)`);
}

/** Scans `buf` page by page against the previous fingerprints `prev` (none: every page is dirty). */
export function scanPages(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): ScanResult {
  checkScan(buf, pageSize, prev);
  return impl.scanPages(buf, pageSize, prev);
}

/** {@link scanPages} off the JS thread (native: split across the cores). */
export function scanPagesAsync(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): Promise<ScanResult> {
  checkScan(buf, pageSize, prev);
  return impl.scanPagesAsync(buf, pageSize, prev);
}

/** SHA-256 of each page `pfns[i]`: 32 bytes each, concatenated. */
export function sha256Pages(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Buffer {
  checkPfns(buf, pageSize, pfns);
  return impl.sha256Pages(buf, pageSize, pfns);
}

/** {@link sha256Pages} off the JS thread. */
export function sha256PagesAsync(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Promise<Buffer> {
  checkPfns(buf, pageSize, pfns);
  return impl.sha256PagesAsync(buf, pageSize, pfns);
}

/** SHA-256 of each byte range `[offsets[i], offsets[i] + lengths[i])`: 32 bytes each. */
export function sha256Ranges(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): Buffer {
  checkBuffer(buf);
  if (!(offsets instanceof Uint32Array) || !(lengths instanceof Uint32Array) || offsets.length !== lengths.length) throw new TypeError('offsets and lengths must be Uint32Arrays of one length');
  for (let i = 0; i < offsets.length; i++) if (offsets[i]! + lengths[i]! > buf.byteLength) throw new RangeError(`range ${i} is beyond the buffer`);
  return impl.sha256Ranges(buf, offsets, lengths);
}

/** Copies pages `pfns` of `buf` contiguously into `out` (a new buffer by default). */
export function gatherPages(buf: Uint8Array, pageSize: number, pfns: Uint32Array, out?: Buffer): Buffer {
  checkPfns(buf, pageSize, pfns);
  const dst = out ?? Buffer.allocUnsafe(pfns.length * pageSize);
  if (dst.length < pfns.length * pageSize) throw new TypeError('out is too small');
  const src = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  pfns.forEach((p, i) => src.copy(dst, i * pageSize, p * pageSize, (p + 1) * pageSize));
  return dst;
}
