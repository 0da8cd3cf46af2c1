/** Helpers of the QEMU tests: a RAM-backed temp dir, reading the RAM file, PNG decoding, polling. */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

/** A temp dir per test on /dev/shm when there is one (RAM files are big), removed afterwards. Call inside describe(). */
export function useShmTmp(): { readonly dir: string; path(...p: string[]): string } {
  let dir = '';
  beforeEach(() => {
    try {
      dir = mkdtempSync('/dev/shm/ttj-qemu-test-');
    } catch {
      dir = mkdtempSync(join(tmpdir(), 'ttj-qemu-test-'));
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return {
    get dir() {
      return dir;
    },
    path: (...p: string[]) => join(dir, ...p),
  };
}

/** Reads a u32 (little-endian) at `addr` of a RAM file, with pread (no caching). */
export function readU32(file: string, addr: number): number {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    assert.equal(readSync(fd, b, 0, 4, addr), 4);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/** Polls `f` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(f: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks the PNG signature, decodes IHDR and inflates the IDAT chunks (node:zlib): a real image. */
export function decodePng(b: Buffer): { width: number; height: number; bitDepth: number; colorType: number; raw: Buffer } {
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(b.toString('latin1', 12, 16), 'IHDR');
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const bitDepth = b[24]!;
  const colorType = b[25]!;
  const idat: Buffer[] = [];
  for (let off = 8; off < b.length; ) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    if (type === 'IDAT') idat.push(b.subarray(off + 8, off + 8 + len));
    if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const channels = colorType === 2 ? 3 : colorType === 6 ? 4 : 1;
  assert.equal(raw.length, height * (1 + (width * channels * bitDepth) / 8), 'pixel data of the whole image');
  return { width, height, bitDepth, colorType, raw };
}
