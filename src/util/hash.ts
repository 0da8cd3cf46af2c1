import { createHash } from 'node:crypto';

/** Length of a content address (SHA-256). */
export const ADDR_LEN = 32;

/** The content address that stands for "all zero bytes" in page tables (never stored). */
export const ZERO_ADDR: Buffer = Buffer.alloc(ADDR_LEN);

/** SHA-256 of one or more byte ranges. */
export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
