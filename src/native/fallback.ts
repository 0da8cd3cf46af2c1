/**
 * The TypeScript page scanner: the same answers as the native addon (a test proves
 * it), used when the addon cannot load. See docs/native.md for the fingerprint.
 */
import { createHash } from 'node:crypto';
import type { ScanResult, ScannerImpl } from './types.js';

const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Writes the fingerprint of one page into `out` at `at`; returns false for a zero page (left zero). */
function fingerprint(view: DataView, start: number, len: number, out: Buffer, at: number, zero: Buffer, page: Buffer): boolean {
  if (page.equals(zero)) {
    out.fill(0, at, at + 16);
    return false;
  }
  const lane = new Uint32Array(8);
  for (let j = 0; j < 8; j++) lane[j] = Math.imul(0x9e3779b9, j + 1);
  for (let i = 0; i < len; i += 32) {
    for (let j = 0; j < 8; j++) lane[j] = Math.imul(rotl(lane[j]! ^ view.getUint32(start + i + 4 * j, true), 13), 0x85ebca77);
  }
  for (let k = 0; k < 4; k++) out.writeUInt32LE(fmix32(lane[k]! ^ rotl(lane[k + 4]!, 16) ^ len), at + 4 * k);
  return true;
}

function scanPages(buf: Uint8Array, pageSize: number, prev?: Uint8Array | null): ScanResult {
  const pages = buf.byteLength / pageSize;
  const fingerprints = Buffer.alloc(pages * 16);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const zero = Buffer.alloc(pageSize);
  const p = prev ? Buffer.from(prev.buffer, prev.byteOffset, prev.byteLength) : undefined;
  const dirty: number[] = [];
  const zeros: number[] = [];
  for (let i = 0; i < pages; i++) {
    const nonZero = fingerprint(view, i * pageSize, pageSize, fingerprints, i * 16, zero, b.subarray(i * pageSize, (i + 1) * pageSize));
    if (p && fingerprints.compare(p, i * 16, i * 16 + 16, i * 16, i * 16 + 16) === 0) continue;
    dirty.push(i);
    if (!nonZero) zeros.push(i);
  }
  return { fingerprints, dirty: Uint32Array.from(dirty), zero: Uint32Array.from(zeros) };
}

function sha256Ranges(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): Buffer {
  const out = Buffer.alloc(offsets.length * 32);
  for (let i = 0; i < offsets.length; i++) {
    createHash('sha256').update(buf.subarray(offsets[i]!, offsets[i]! + lengths[i]!)).digest().copy(out, i * 32);
  }
  return out;
}

function sha256Pages(buf: Uint8Array, pageSize: number, pfns: Uint32Array): Buffer {
  const out = Buffer.alloc(pfns.length * 32);
  for (let i = 0; i < pfns.length; i++) {
    const s = pfns[i]! * pageSize;
    createHash('sha256').update(buf.subarray(s, s + pageSize)).digest().copy(out, i * 32);
  }
  return out;
}

export const fallbackImpl: ScannerImpl = {
  scanPages,
  scanPagesAsync: async (buf, ps, prev) => scanPages(buf, ps, prev),
  sha256Pages,
  sha256PagesAsync: async (buf, ps, pfns) => sha256Pages(buf, ps, pfns),
  sha256Ranges,
};
