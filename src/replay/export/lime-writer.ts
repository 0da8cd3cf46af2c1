import { open } from 'node:fs/promises';
import type { RamRange } from './memory-layout.js';
import { copyRange } from './copy-range.js';

/** LiME's header magic ("EMiL" little-endian) and version. */
export const LIME_MAGIC = 0x4c694d45;
const LIME_VERSION = 1;
/** Bytes of a LiME range header. */
const LIME_HEADER_SIZE = 32;

/**
 * Writes `memory` (the folded RAM) as a LiME dump: for each range a 32-byte header
 * (magic, version 1, first and last guest-physical address, inclusive; 8 reserved
 * bytes), then the range's bytes. Files are created mode 0600.
 */
export async function writeLime(memory: string, ranges: RamRange[], out: string): Promise<void> {
  const src = await open(memory, 'r');
  try {
    const dst = await open(out, 'wx', 0o600);
    try {
      let pos = 0;
      for (const r of ranges) {
        const h = Buffer.alloc(LIME_HEADER_SIZE);
        h.writeUInt32LE(LIME_MAGIC, 0);
        h.writeUInt32LE(LIME_VERSION, 4);
        h.writeBigUInt64LE(BigInt(r.start), 8);
        h.writeBigUInt64LE(BigInt(r.start + r.size - 1), 16);
        await dst.write(h, 0, h.length, pos);
        await copyRange(src, r.offset, dst, pos + LIME_HEADER_SIZE, r.size);
        pos += LIME_HEADER_SIZE + r.size;
      }
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
