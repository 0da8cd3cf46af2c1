/**
 * Direct I/O (O_DIRECT) for pack files, like QEMU's `cache=none`: a journal's blob
 * bytes go from ttj's buffers to the disk without passing through the page cache,
 * so a stream of writes neither copies every byte into page-cache memory nor evicts
 * the host's useful cache, and reads of stored blocks come from the disk.
 *
 * O_DIRECT needs 4 KiB-aligned file positions, lengths and memory. The native addon
 * stages the bytes through a reused aligned buffer of its worker thread, so callers
 * pass ordinary Buffers. Without the addon (or on a file system without O_DIRECT,
 * such as tmpfs) pack files are written through the page cache; the fallback below
 * then does the same reads and writes with plain `pwritev`/`pread`.
 *
 * @module
 */
import { constants as fsConstants, read as fsRead, writev as fsWritev } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { loadNative } from './load.js';

/** File positions and lengths of direct writes are multiples of this. */
export const DIRECT_IO_ALIGN = 4096;

/** One implementation of the two direct I/O calls (the addon, or the TS fallback). */
export interface DirectIoImpl {
  /**
   * Writes bytes `[skip, skip + length)` of the concatenation of `buffers` at file
   * position `position + skip`; resolves to the bytes written.
   */
  pwriteAligned(fd: number, buffers: Uint8Array[], position: number, skip: number, length: number): Promise<number>;
  /**
   * Reads up to `length` bytes at `position` into `target` at `targetOffset`; resolves
   * to the bytes read (fewer only at the end of the file).
   */
  preadAligned(fd: number, position: number, length: number, target: Uint8Array, targetOffset: number): Promise<number>;
}

function pwritevAll(fd: number, bufs: Uint8Array[], pos: number): Promise<number> {
  return new Promise((resolve, reject) => fsWritev(fd, bufs as NodeJS.ArrayBufferView[], pos, (e, n) => (e ? reject(e) : resolve(n))));
}

function preadOnce(fd: number, buf: Uint8Array, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fsRead(fd, buf, off, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
}

/** The fallback: the same bytes with `pwritev` and `pread`, for a file opened without O_DIRECT. */
export const directIoFallback: DirectIoImpl = {
  async pwriteAligned(fd, buffers, position, skip, length) {
    // The slices of `buffers` that make up [skip, skip + length).
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const b of buffers) {
      const from = Math.max(skip, at);
      const to = Math.min(skip + length, at + b.length);
      if (from < to) parts.push(b.subarray(from - at, to - at));
      at += b.length;
    }
    let done = 0;
    while (done < length) {
      // Resume after a short write: drop the bytes already written.
      let left = done;
      const rest: Uint8Array[] = [];
      for (const p of parts) {
        if (left >= p.length) left -= p.length;
        else {
          rest.push(left ? p.subarray(left) : p);
          left = 0;
        }
      }
      const n = await pwritevAll(fd, rest.slice(0, 1024), position + skip + done);
      if (n <= 0) throw Object.assign(new Error('pwritev wrote nothing'), { code: 'EIO' });
      done += n;
    }
    return done;
  },
  async preadAligned(fd, position, length, target, targetOffset) {
    let done = 0;
    while (done < length) {
      const n = await preadOnce(fd, target, targetOffset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  },
};

const addon = loadNative().impl;

/** The addon's direct I/O, when it loaded. */
export const directIoNative: DirectIoImpl | undefined = addon && {
  pwriteAligned: (fd, buffers, position, skip, length) => addon.pwriteAlignedAsync(fd, buffers, position, skip, length),
  preadAligned: (fd, position, length, target, targetOffset) => addon.preadAlignedAsync(fd, position, length, target, targetOffset),
};

function checkInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`${name} must be a non-negative integer`);
}

function checkWrite(fd: number, buffers: Uint8Array[], position: number, skip: number, length: number): void {
  checkInt('fd', fd);
  if (!Array.isArray(buffers) || !buffers.every((b) => b instanceof Uint8Array)) throw new TypeError('buffers must be an array of Buffers or Uint8Arrays');
  checkInt('position', position);
  checkInt('skip', skip);
  checkInt('length', length);
  const total = buffers.reduce((a, b) => a + b.length, 0);
  if (skip + length > total) throw new RangeError(`bytes ${skip}..${skip + length} are beyond the buffers (${total} bytes)`);
  if ((position + skip) % DIRECT_IO_ALIGN || length % DIRECT_IO_ALIGN) throw new RangeError(`a direct write must start and end on ${DIRECT_IO_ALIGN}-byte boundaries`);
}

/**
 * Writes bytes `[skip, skip + length)` of the concatenation of `buffers` at file
 * position `position + skip`, for a file opened with {@link openDirect} (the addon;
 * plain `pwritev` for a file without O_DIRECT). Several calls may run at once on
 * different ranges (each on its own worker thread).
 *
 * @returns the bytes written (`length`)
 * @throws TypeError for a bad argument; RangeError when the range is beyond the
 *   buffers or `position + skip` or `length` is not a multiple of {@link DIRECT_IO_ALIGN}
 */
export function pwriteAligned(fd: number, buffers: Uint8Array[], position: number, skip: number, length: number, direct: boolean): Promise<number> {
  checkWrite(fd, buffers, position, skip, length);
  return (direct && directIoNative ? directIoNative : directIoFallback).pwriteAligned(fd, buffers, position, skip, length);
}

/**
 * Reads up to `length` bytes at any `position` into `target` at `targetOffset`; with
 * `direct` (a file opened by {@link openDirect}) through the addon's aligned staging.
 *
 * @returns the bytes read (fewer only at the end of the file)
 * @throws TypeError for a bad argument; RangeError when the range does not fit `target`
 */
export function preadAligned(fd: number, position: number, length: number, target: Uint8Array, targetOffset: number, direct: boolean): Promise<number> {
  checkInt('fd', fd);
  checkInt('position', position);
  checkInt('length', length);
  checkInt('targetOffset', targetOffset);
  if (!(target instanceof Uint8Array)) throw new TypeError('target must be a Buffer or Uint8Array');
  if (targetOffset + length > target.length) throw new RangeError('the range does not fit the target');
  return (direct && directIoNative ? directIoNative : directIoFallback).preadAligned(fd, position, length, target, targetOffset);
}

/**
 * Opens `path` with O_DIRECT and `flags` (never creating it), or resolves to undefined
 * when direct I/O is not to be had: no addon, or a file system that refuses O_DIRECT.
 */
export async function openDirect(path: string, flags: number): Promise<FileHandle | undefined> {
  if (!directIoNative || !fsConstants.O_DIRECT) return undefined;
  try {
    return await open(path, (flags & ~fsConstants.O_CREAT) | fsConstants.O_DIRECT);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw e;
  }
}
