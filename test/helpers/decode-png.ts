import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';

/** Checks the PNG signature, decodes IHDR and inflates the IDAT chunks (node:zlib): a real image. */
export function decodePng(b: Buffer): { width: number; height: number; bitDepth: number; colorType: number; raw: Buffer } {
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(b.toString('latin1', 12, 16), 'IHDR');
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const bitDepth = b[24]!;
  const colorType = b[25]!;
  const idat: Buffer[] = [];
  for (let off = 8; off < b.length;) {
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
