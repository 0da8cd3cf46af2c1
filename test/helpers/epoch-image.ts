import { dirty, memoryImage } from './images.js';

export const LOOP_PAGE_SIZE = 4096;
const PAGES = 1024;
let base: Buffer | undefined;

/** The memory image the append loop writes for epoch `e` (deterministic). */
export function epochImage(e: number): Buffer {
  base ??= memoryImage(PAGES, LOOP_PAGE_SIZE, 42);
  const img = Buffer.from(base);
  dirty(img, LOOP_PAGE_SIZE, 40, 1000 + e);
  img.writeUInt32LE(e, 8); // page 0 always changes
  return img;
}
