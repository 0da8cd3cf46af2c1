import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

/** A deterministic pseudo-random generator (xorshift32) so tests can regenerate images. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Fills `page` with random bytes from `r`. */
export function randomPage(page: Buffer, r: () => number): void {
  for (let i = 0; i + 4 <= page.length; i += 4) page.writeUInt32LE(r(), i);
}

const WORDS = 'the quick brown fox jumps over the lazy dog kernel page memory disk journal epoch frame '.split(' ');

/** Fills `page` with text-like bytes. */
function textPage(page: Buffer, r: () => number): void {
  let off = 0;
  while (off < page.length) {
    const w = WORDS[r() % WORDS.length]! + ' ';
    off += page.write(w, off);
  }
}

/**
 * A memory-like image of `pages` pages: ~40% zero, text-like and random pages,
 * with some duplicated pages (identical content stored once).
 */
export function memoryImage(pages: number, pageSize: number, seed: number): Buffer {
  const r = rng(seed);
  const img = Buffer.alloc(pages * pageSize);
  for (let p = 0; p < pages; p++) {
    const page = img.subarray(p * pageSize, (p + 1) * pageSize);
    const k = r() % 10;
    if (k < 4) continue;
    if (k < 7) textPage(page, r);
    else if (k < 8 && p > 0)
      img.copy(page, 0, 0, pageSize); // a duplicate of page 0
    else randomPage(page, r);
  }
  return img;
}

/** Dirties `count` pages of `img` in place (some made zero, some random). */
export function dirty(img: Buffer, pageSize: number, count: number, seed: number): number[] {
  const r = rng(seed);
  const pages = img.length / pageSize;
  const touched: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = r() % pages;
    touched.push(p);
    const page = img.subarray(p * pageSize, (p + 1) * pageSize);
    if (r() % 5 === 0) page.fill(0);
    else randomPage(page, r);
  }
  return touched;
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (let i = 0; i < buf.length; i++) {
    c ^= buf[i]!;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A real PNG (8-bit grey) of `w`x`h` whose pixels depend on `seed`. */
export function png(w: number, h: number, seed: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = (x * 7 + y * 3 + seed * 31) & 0xff;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
