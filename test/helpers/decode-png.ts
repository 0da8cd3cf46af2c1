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

/** The Paeth predictor of the PNG filters. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** A PNG's pixels as RGBA, 8 bits a channel (grey, RGB or RGBA images of depth 8, not interlaced): what a canvas's getImageData gives. */
export function pngPixels(b: Buffer): { width: number; height: number; rgba: Uint8Array } {
  const { width, height, bitDepth, colorType, raw } = decodePng(b);
  assert.equal(bitDepth, 8, 'an 8-bit PNG');
  const ch = colorType === 2 ? 3 : colorType === 6 ? 4 : 1;
  const stride = width * ch;
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= ch ? px[y * stride + x - ch]! : 0;
      const up = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= ch && y > 0 ? px[(y - 1) * stride + x - ch]! : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? up : filter === 3 ? (a + up) >> 1 : paeth(a, up, c);
      px[y * stride + x] = (v + pred) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let k = 0; k < 3; k++) rgba[i * 4 + k] = px[i * ch + (ch === 1 ? 0 : k)]!;
    rgba[i * 4 + 3] = ch === 4 ? px[i * 4 + 3]! : 255;
  }
  return { width, height, rgba };
}
