/**
 * Where {@link JournalStore.readBlobsInto} puts blobs: a buffer, or a file written at
 * positions (a fold writes memory and disks straight from the decoded blocks; the
 * places it never writes are holes, read back as zeros).
 *
 * @module
 */
import { writeSync } from 'node:fs';
import { ErrorCodes, TtjError } from '../errors.js';

/** A buffer, or a file open for writing given by its descriptor (every thread of the process can write it), written at positions. */
export type BlobTarget = Buffer | { fd: number };

/** Puts `data` into `target` at `at`. */
export function putBlob(target: BlobTarget, data: Buffer, at: number): void {
  if (Buffer.isBuffer(target)) data.copy(target, at);
  else writeFully(target.fd, data, 0, data.length, at);
}

/** Writes `len` bytes of `buf` from `off` at file position `pos`, however many writes it takes. */
export function writeFully(fd: number, buf: Uint8Array, off: number, len: number, pos: number): void {
  for (let done = 0; done < len;) done += writeSync(fd, buf, off + done, len - done, pos + done);
}

/** The failure of a `readBlobsInto` with `size` that met blob `addr` of `length` bytes. */
export function notOfSize(addr: Buffer, length: number, size: number): TtjError {
  const hex = addr.toString('hex');
  return new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${hex} is ${length} bytes, not ${size}`, { addr: hex });
}
