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
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { pread, pwritev } from '../util/positional-io.js';
import { sliceBuffers } from '../util/slice-buffers.js';
import { loadNative } from './load.js';

/** File positions and lengths of direct writes are multiples of this. */
export const DIRECT_IO_ALIGN = 4096;

/** One implementation of the two direct I/O calls (the addon, or the TS fallback). */
export interface DirectIoImpl {
  /** Writes the concatenation of `buffers` at file position `position`; resolves to the bytes written. */
  pwriteAligned(fd: number, buffers: Uint8Array[], position: number): Promise<number>;
  /**
   * Reads up to `length` bytes at `position` into `target` at `targetOffset`; resolves
   * to the bytes read (fewer only at the end of the file).
   */
  preadAligned(fd: number, position: number, length: number, target: Uint8Array, targetOffset: number): Promise<number>;
}

/** The fallback: the same bytes with `pwritev` and `pread`, for a file opened without O_DIRECT. */
export const directIoFallback: DirectIoImpl = {
  async pwriteAligned(fd, buffers, position) {
    const length = buffers.reduce((a, b) => a + b.length, 0);
    let done = 0;
    while (done < length) {
      // After a short write, on from the first byte not written.
      const n = await pwritev(fd, sliceBuffers(buffers, done, length).slice(0, 1024), position + done);
      if (n <= 0) throw Object.assign(new Error('pwritev wrote nothing'), { code: 'EIO' });
      done += n;
    }
    return done;
  },
  async preadAligned(fd, position, length, target, targetOffset) {
    let done = 0;
    while (done < length) {
      const n = await pread(fd, target, targetOffset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  },
};

const addon = loadNative().impl;

/** The addon's direct I/O, when it loaded. */
export const directIoNative: DirectIoImpl | undefined = addon && {
  pwriteAligned: (fd, buffers, position) => addon.pwriteAlignedAsync(fd, buffers, position),
  preadAligned: (fd, position, length, target, targetOffset) => addon.preadAlignedAsync(fd, position, length, target, targetOffset),
};

function checkInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`${name} must be a non-negative integer`);
}

/**
 * Writes the concatenation of `buffers` at file position `position`, for a file opened
 * with {@link openDirect} (the addon; plain `pwritev` for a file without O_DIRECT).
 * Several calls may run at once on different ranges (each on its own worker thread).
 *
 * @returns the bytes written (all of them)
 * @throws TypeError for a bad argument; RangeError when `position` or the total length
 *   is not a multiple of {@link DIRECT_IO_ALIGN}
 */
export function pwriteAligned(fd: number, buffers: Uint8Array[], position: number, direct: boolean): Promise<number> {
  checkInt('fd', fd);
  if (!Array.isArray(buffers) || !buffers.every((b) => b instanceof Uint8Array)) throw new TypeError('buffers must be an array of Buffers or Uint8Arrays');
  checkInt('position', position);
  const length = buffers.reduce((a, b) => a + b.length, 0);
  if (position % DIRECT_IO_ALIGN || length % DIRECT_IO_ALIGN) throw new RangeError(`a direct write must start and end on ${DIRECT_IO_ALIGN}-byte boundaries`);
  return (direct && directIoNative ? directIoNative : directIoFallback).pwriteAligned(fd, buffers, position);
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
 * Allocates the blocks of `[offset, offset + length)` of a file and extends its size
 * over them (`fallocate`, mode 0), so that later direct writes there are overwrites:
 * file systems run those in parallel (ext4 under a shared inode lock), where direct
 * appends past the end of the file are serialized and allocate as they go. The new
 * range reads as zeroes.
 *
 * @returns true when allocated; false without the addon, or when the file system
 *   refuses (the caller then simply appends)
 * @throws TypeError for a bad argument
 */
export async function preallocate(fd: number, offset: number, length: number): Promise<boolean> {
  checkInt('fd', fd);
  checkInt('offset', offset);
  checkInt('length', length);
  if (!addon || length === 0) return false;
  try {
    await addon.fallocateAsync(fd, offset, length);
    return true;
  } catch {
    // EOPNOTSUPP, ENOSPC...: the writes themselves report what matters.
    return false;
  }
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
