/**
 * The TypeScript page scanner: the same answers as the native addon (a test proves
 * it on random inputs), used when the addon cannot load. The fingerprint
 * ("ttj-fp2") is defined in docs/native.md; it is written in 32-bit lanes with
 * `Math.imul` so V8 compiles it to integer code.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import type { ScanResult, ScannerImpl } from './types.js';
import { checkBuffers, checkOut, checkPfns, checkRanges, checkScan } from './validate.js';

const MUL = 0x85ebca77 | 0;
const FINAL_INIT = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];
const LITTLE_ENDIAN = endianness() === 'LE';

/** MurmurHash3's 32-bit finalizer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One fingerprint step of the 4-lane group at `x[g..g+3]` with words `w0..w3`. */
function step(x: Int32Array, g: number, w0: number, w1: number, w2: number, w3: number): void {
  let t0 = x[g]! ^ w0;
  let t1 = x[g + 1]! ^ w1;
  let t2 = x[g + 2]! ^ w2;
  let t3 = x[g + 3]! ^ w3;
  t0 = Math.imul((t0 << 13) | (t0 >>> 19), MUL);
  t1 = Math.imul((t1 << 13) | (t1 >>> 19), MUL);
  t2 = Math.imul((t2 << 13) | (t2 >>> 19), MUL);
  t3 = Math.imul((t3 << 13) | (t3 >>> 19), MUL);
  x[g] = t0 + (t1 << 1);
  x[g + 1] = t1 + (t2 << 1);
  x[g + 2] = t2 + (t3 << 1);
  x[g + 3] = t3 + (t0 << 1);
}

const lanes = new Int32Array(32);
const fin = new Int32Array(4);

/** Runs the lanes over the page at `words[start..start+len/4)` (host-order = little-endian words). */
function lanesWords(words: Uint32Array | Int32Array, start: number, count: number): void {
  for (let i = start, end = start + count; i < end; i += 32) {
    for (let g = 0; g < 32; g += 4) step(lanes, g, words[i + g]!, words[i + g + 1]!, words[i + g + 2]!, words[i + g + 3]!);
  }
}

/** The same over a DataView (unaligned buffers or a big-endian host). */
function lanesView(view: DataView, start: number, len: number): void {
  for (let o = start, end = start + len; o < end; o += 128) {
    for (let g = 0; g < 32; g += 4) {
      const b = o + 4 * g;
      step(lanes, g, view.getInt32(b, true), view.getInt32(b + 4, true), view.getInt32(b + 8, true), view.getInt32(b + 12, true));
    }
  }
}

/** Finishes the lanes into 16 bytes at `out[at..]`. */
function finish(len: number, out: Buffer, at: number): void {
  for (let k = 0; k < 4; k++) fin[k] = FINAL_INIT[k]! ^ len;
  for (let g = 0; g < 32; g += 4) step(fin, 0, lanes[g]!, lanes[g + 1]!, lanes[g + 2]!, lanes[g + 3]!);
  for (let r = 0; r < 4; r++) step(fin, 0, 0, 0, 0, 0);
  for (let k = 0; k < 4; k++) out.writeUInt32LE(fmix32(fin[k]!), at + 4 * k);
}

function initLanes(): void {
  for (let j = 0; j < 32; j++) lanes[j] = Math.imul(0x9e3779b9, j + 1);
}

function scanPages(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): ScanResult {
  const pages = Math.floor(buf.byteLength / pageSize);
  const fingerprints = Buffer.alloc(pages * 16);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const aligned = LITTLE_ENDIAN && buf.byteOffset % 4 === 0;
  const words = aligned ? new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2) : undefined;
  const view = aligned ? undefined : new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const zeroPage = Buffer.alloc(pageSize);
  const p = prev ? Buffer.from(prev.buffer, prev.byteOffset, prev.byteLength) : undefined;
  const dirty: number[] = [];
  const zeros: number[] = [];
  for (let i = 0; i < pages; i++) {
    const start = i * pageSize;
    // The first word settles most non-zero pages before the memcmp.
    const isZero = (words ? words[start >>> 2] === 0 : b[start] === 0) && b.compare(zeroPage, 0, pageSize, start, start + pageSize) === 0;
    if (!isZero) {
      initLanes();
      if (words) lanesWords(words, start >>> 2, pageSize >>> 2);
      else lanesView(view!, start, pageSize);
      finish(pageSize, fingerprints, i * 16);
    }
    if (p && fingerprints.compare(p, i * 16, i * 16 + 16, i * 16, i * 16 + 16) === 0) continue;
    dirty.push(i);
    if (isZero) zeros.push(i);
  }
  return { fingerprints, dirty: Uint32Array.from(dirty), zero: Uint32Array.from(zeros) };
}

function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

function sha256Ranges(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): Buffer {
  const out = Buffer.alloc(offsets.length * 32);
  for (let i = 0; i < offsets.length; i++) sha256(buf.subarray(offsets[i]!, offsets[i]! + lengths[i]!)).copy(out, i * 32);
  return out;
}

function sha256Pages(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Buffer {
  const out = Buffer.alloc(pfns.length * 32);
  for (let i = 0; i < pfns.length; i++) {
    const s = pfns[i]! * pageSize;
    sha256(buf.subarray(s, s + pageSize)).copy(out, i * 32);
  }
  return out;
}

function gatherPages(buf: Uint8Array, pageSize: number, pfns: Uint32Array, out?: Uint8Array): Buffer {
  const dst = out ? (Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength)) : Buffer.allocUnsafe(pfns.length * pageSize);
  const src = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < pfns.length; i++) src.copy(dst, i * pageSize, pfns[i]! * pageSize, (pfns[i]! + 1) * pageSize);
  return dst;
}

/**
 * The TypeScript implementation. It validates its arguments as the addon does (a
 * `TypeError`, or a `RangeError` for a pfn or range beyond the buffer, thrown
 * synchronously also by the async variants), then runs on the JS thread: the async
 * variants only return promises.
 */
export const fallbackImpl: ScannerImpl = {
  scanPages(buf, pageSize, prev) {
    checkScan(buf, pageSize, prev);
    return scanPages(buf, pageSize, prev);
  },
  scanPagesAsync(buf, pageSize, prev) {
    checkScan(buf, pageSize, prev);
    return Promise.resolve(scanPages(buf, pageSize, prev));
  },
  sha256Pages(buf, pageSize, pfns) {
    checkPfns(buf, pageSize, pfns);
    return sha256Pages(buf, pageSize, pfns);
  },
  sha256PagesAsync(buf, pageSize, pfns) {
    checkPfns(buf, pageSize, pfns);
    return Promise.resolve(sha256Pages(buf, pageSize, pfns));
  },
  sha256Ranges(buf, offsets, lengths) {
    checkRanges(buf, offsets, lengths);
    return sha256Ranges(buf, offsets, lengths);
  },
  sha256BuffersAsync(buffers) {
    checkBuffers(buffers);
    const out = Buffer.alloc(buffers.length * 32);
    buffers.forEach((b, i) => sha256(b).copy(out, i * 32));
    return Promise.resolve(out);
  },
  gatherPages(buf, pageSize, pfns, out) {
    checkPfns(buf, pageSize, pfns);
    checkOut(out, pfns.length * pageSize);
    return gatherPages(buf, pageSize, pfns, out ?? undefined);
  },
};
