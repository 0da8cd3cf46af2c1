/** What a page scan finds. */
export interface ScanResult {
  /** 16 bytes per page: the page fingerprints (docs/native.md, "ttj-fp2"); all zero for a zero page. */
  fingerprints: Buffer;
  /** Pages (pfns) whose fingerprint differs from `prev` (every page without `prev`), ascending. */
  dirty: Uint32Array;
  /** The pages among `dirty` that are entirely zero, ascending. */
  zero: Uint32Array;
}

/**
 * One implementation of the scanner: the native addon or the TypeScript fallback.
 * Both give identical results and validate their arguments alike: a bad one is a
 * `TypeError` (a pfn or range beyond the buffer a `RangeError`), thrown
 * synchronously also by the async variants, never a crash. A detached
 * (transferred) buffer is a bad argument.
 */
export interface ScannerImpl {
  /** Fingerprints every page of `buf`; see {@link ScanResult}. */
  scanPages(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): ScanResult;
  /** {@link ScannerImpl.scanPages} off the JS thread (native: split across the cores). */
  scanPagesAsync(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): Promise<ScanResult>;
  /** SHA-256 of each page `pfns[i]`, 32 bytes each, concatenated in the order of `pfns`. */
  sha256Pages(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Buffer;
  /** {@link ScannerImpl.sha256Pages} off the JS thread (native: split across the cores). */
  sha256PagesAsync(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Promise<Buffer>;
  /**
   * SHA-256 of each whole buffer, 32 bytes each in order, off the JS thread in one job
   * (native: one thread-pool hop however many buffers, split across the cores when large).
   */
  sha256BuffersAsync(buffers: Uint8Array[]): Promise<Buffer>;
  /** SHA-256 of each byte range `[offsets[i], offsets[i] + lengths[i])`, 32 bytes each. */
  sha256Ranges(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): Buffer;
  /** Copies pages `pfns` of `buf` contiguously into `out` (a new Buffer by default) and returns it. */
  gatherPages(buf: Uint8Array, pageSize: number, pfns: Uint32Array, out?: Uint8Array): Buffer;
}

/** What the native addon says about itself. */
export interface NativeAddonInfo {
  /** The SHA-256 compression function in use. */
  sha: 'sha-ni' | 'portable';
  /** The fingerprint code in use. */
  simd: 'avx2' | 'portable';
  /** Threads a large scan or hash is split across. */
  threads: number;
  /** The fingerprint definition it implements (must equal {@link FINGERPRINT_VERSION}). */
  fingerprintVersion: number;
}

/** The version of the fingerprint definition this TypeScript implements (docs/native.md). */
export const FINGERPRINT_VERSION = 2;
