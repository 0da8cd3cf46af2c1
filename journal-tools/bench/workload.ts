/** The benchmark's memory-like workload: deterministic guest RAM images, epoch by epoch. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PAGE = 4096;

/** The page mix, in percent: zero, text-like (compressible), random (incompressible). */
export const MIX = { zero: 40, text: 35, random: 25 } as const;

/** xorshift32: deterministic, seeded, fast enough to fill hundreds of MiB. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

const WORDS = 'the of and to in is that for it with as was on be by this kernel page memory disk process thread socket buffer file inode cache'.split(' ');

/** Fills a page with content of the mix: zero, text-like words, or random bytes. */
export function fillPage(page: Buffer, r: () => number): void {
  const k = r() % 100;
  if (k < MIX.zero) page.fill(0);
  else if (k < MIX.zero + MIX.text) {
    let off = 0;
    while (off < page.length) off += page.write(WORDS[r() % WORDS.length]! + (r() % 7 === 0 ? '\n' : ' '), off);
  } else for (let i = 0; i < page.length; i += 4) page.writeUInt32LE(r(), i);
}

/**
 * Writes `epochs` images of a `sizeMiB` guest into `dir` (e0.raw, e1.raw, ...): the mix
 * above, with `dirtyFraction` of the pages (picked at random, with repeats) given new
 * content of the same mix each epoch — text-like, random, or zeroed.
 */
export function writeEpochImages(dir: string, sizeMiB: number, epochs: number, dirtyFraction: number, seed = 1): string[] {
  const pages = (sizeMiB * 1048576) / PAGE;
  const img = Buffer.alloc(pages * PAGE);
  const r = rng(seed);
  for (let p = 0; p < pages; p++) fillPage(img.subarray(p * PAGE, (p + 1) * PAGE), r);
  const files: string[] = [];
  for (let e = 0; e < epochs; e++) {
    if (e > 0) {
      const n = Math.round(pages * dirtyFraction);
      for (let i = 0; i < n; i++) {
        const p = r() % pages;
        fillPage(img.subarray(p * PAGE, (p + 1) * PAGE), r);
      }
    }
    const f = join(dir, `e${e}.raw`);
    writeFileSync(f, img);
    files.push(f);
  }
  return files;
}

/**
 * A long history: one `sizeMiB` image, `dirtyPages` pages rewritten per epoch; calls
 * `each(e, image)` with the image of every epoch (the same buffer, changed in place).
 */
export async function longHistory(sizeMiB: number, epochs: number, dirtyPages: number, each: (e: number, image: Buffer) => Promise<void>): Promise<void> {
  const pages = (sizeMiB * 1048576) / PAGE;
  const img = Buffer.alloc(pages * PAGE);
  const r = rng(7);
  for (let p = 0; p < pages; p++) fillPage(img.subarray(p * PAGE, (p + 1) * PAGE), r);
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; e > 0 && i < dirtyPages; i++) {
      const p = r() % pages;
      fillPage(img.subarray(p * PAGE, (p + 1) * PAGE), r);
    }
    await each(e, img);
  }
}
