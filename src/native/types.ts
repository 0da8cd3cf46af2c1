/** What a page scan finds. */
export interface ScanResult {
  /** 16 bytes per page: the page fingerprints (docs/native.md); all zero for a zero page. */
  fingerprints: Buffer;
  /** Pages whose fingerprint differs from `prev` (every page without `prev`), ascending. */
  dirty: Uint32Array;
  /** The pages among `dirty` that are all zero, ascending. */
  zero: Uint32Array;
}

/** One implementation of the scanner (native or TypeScript); arguments already validated. */
export interface ScannerImpl {
  scanPages(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): ScanResult;
  scanPagesAsync(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): Promise<ScanResult>;
  sha256Pages(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Buffer;
  sha256PagesAsync(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Promise<Buffer>;
  sha256Ranges(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): Buffer;
}
