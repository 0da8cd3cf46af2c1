/**
 * Argument checks shared by the wrapper (src/native/index.ts) and the TypeScript
 * fallback: a bad argument is a `TypeError`, a pfn or range beyond the buffer a
 * `RangeError`. The addon makes the same checks in C++.
 */

/** Largest and smallest page sizes accepted. */
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 1 << 20;

/**
 * True when the view's ArrayBuffer was detached (transferred with
 * `structuredClone(..., { transfer })` or `postMessage`). A detached view reads as
 * length 0; Node 20 has no `ArrayBuffer.prototype.detached`, but constructing a
 * view on a detached buffer throws, which only needs trying for an empty view.
 */
function isDetached(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0 || view.buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(view.buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** `buf` must be a Uint8Array (a Buffer is one) whose memory is not detached. */
function checkBuffer(buf: unknown, name = 'buffer'): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`${name} must be a Buffer or Uint8Array`);
  if (isDetached(buf)) throw new TypeError(`${name} is detached (its ArrayBuffer was transferred)`);
}

/** A power of two from 512 to 1 MiB. */
function checkPageSize(pageSize: unknown): asserts pageSize is number {
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
    throw new TypeError(`page size ${String(pageSize)} is not a power of two from 512 to 1048576`);
  }
}

/** The arguments of `scanPages`. */
export function checkScan(buf: unknown, pageSize: unknown, prev: unknown): asserts buf is Uint8Array {
  checkBuffer(buf);
  checkPageSize(pageSize);
  if (buf.byteLength % pageSize !== 0) throw new TypeError(`buffer length ${buf.byteLength} is not a multiple of the page size ${pageSize}`);
  if (prev !== undefined && prev !== null) {
    checkBuffer(prev, 'prev');
    const want = (buf.byteLength / pageSize) * 16;
    if (prev.byteLength !== want) throw new TypeError(`prev must hold 16 bytes per page (${want}), not ${prev.byteLength}`);
  }
}

/** The arguments of `sha256Pages` and `gatherPages`: every pfn a page of `buf`. */
export function checkPfns(buf: unknown, pageSize: unknown, pfns: unknown): asserts pfns is Uint32Array {
  checkBuffer(buf);
  checkPageSize(pageSize);
  if (!(pfns instanceof Uint32Array)) throw new TypeError('pfns must be a Uint32Array');
  if (isDetached(pfns)) throw new TypeError('pfns is detached (its ArrayBuffer was transferred)');
  const pages = Math.floor(buf.byteLength / pageSize);
  for (let i = 0; i < pfns.length; i++) if (pfns[i]! >= pages) throw new RangeError(`pfn ${pfns[i]} is beyond the buffer (${pages} pages)`);
}

/** The argument of `sha256BuffersAsync`: an array of Buffers or Uint8Arrays, none detached. */
export function checkBuffers(buffers: unknown): asserts buffers is Uint8Array[] {
  if (!Array.isArray(buffers)) throw new TypeError('buffers must be an array of Buffers or Uint8Arrays');
  for (const b of buffers) checkBuffer(b, 'each buffer');
}

/** The arguments of `sha256Ranges`. */
export function checkRanges(buf: unknown, offsets: unknown, lengths: unknown): asserts offsets is Uint32Array {
  checkBuffer(buf);
  if (!(offsets instanceof Uint32Array) || !(lengths instanceof Uint32Array) || offsets.length !== lengths.length) {
    throw new TypeError('offsets and lengths must be Uint32Arrays of one length');
  }
  if (isDetached(offsets) || isDetached(lengths)) throw new TypeError('offsets or lengths is detached');
  for (let i = 0; i < offsets.length; i++) if (offsets[i]! + lengths[i]! > buf.byteLength) throw new RangeError(`range ${i} is beyond the buffer`);
}

/** The optional `out` of `gatherPages`: room for `pfns` pages. */
export function checkOut(out: unknown, need: number): asserts out is Uint8Array | undefined | null {
  if (out === undefined || out === null) return;
  checkBuffer(out, 'out');
  if (out.byteLength < need) throw new TypeError(`out is too small: ${out.byteLength} < ${need}`);
}

/** A file descriptor: a non-negative integer. */
function checkFd(fd: unknown): asserts fd is number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a non-negative integer');
}

/** The arguments of `scanFile`: `size` a whole number of pages, `prev` 16 bytes a page. */
export function checkRamFileScan(fd: unknown, size: unknown, pageSize: unknown, prev: unknown): void {
  checkFd(fd);
  checkPageSize(pageSize);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size % pageSize) throw new TypeError(`size ${String(size)} is not a whole number of ${pageSize}-byte pages`);
  if (prev !== undefined && prev !== null) {
    checkBuffer(prev, 'prev');
    if (prev.byteLength !== (size / pageSize) * 16) throw new TypeError(`prev must hold 16 bytes per page (${(size / pageSize) * 16}), not ${prev.byteLength}`);
  }
}

/** The arguments of `readPages`: `out` room for every page of `pfns`. */
export function checkRamFileRead(fd: unknown, pageSize: unknown, pfns: unknown, out: unknown): void {
  checkFd(fd);
  checkPageSize(pageSize);
  if (!(pfns instanceof Uint32Array)) throw new TypeError('pfns must be a Uint32Array');
  checkBuffer(out, 'out');
  if (out.byteLength < pfns.length * pageSize) throw new TypeError(`out is too small: ${out.byteLength} < ${pfns.length * pageSize}`);
}
