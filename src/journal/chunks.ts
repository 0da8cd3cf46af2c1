import { sha256 } from '../util/hash.js';
import type { BlobPut } from '../store/store.js';

/** Chunk size of device state (4 KiB: unchanged device regions are stored once). */
export const DEVICE_CHUNK = 4096;
/** Chunk size of frames (256 KiB: bounded blobs for remote stores). */
export const FRAME_CHUNK = 256 * 1024;

/** Chunk size of audio (8 KiB: silence and repeated sound are stored once). */
export const AUDIO_CHUNK = 8192;

/** Splits `data` into content-addressed chunks. */
export function chunkContent(data: Buffer, chunkSize: number): { chunkAddrs: Buffer; contentHash: Buffer; blobs: BlobPut[] } {
  const blobs: BlobPut[] = [];
  const addrs: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunkSize) {
    const piece = data.subarray(off, Math.min(data.length, off + chunkSize));
    const addr = sha256(piece);
    blobs.push({ addr, data: piece });
    addrs.push(addr);
  }
  return { chunkAddrs: Buffer.concat(addrs), contentHash: sha256(data), blobs };
}

/** The 32-byte addresses of a concatenated address list. */
export function splitAddrs(addrs: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < addrs.length; i += 32) out.push(addrs.subarray(i, i + 32));
  return out;
}
