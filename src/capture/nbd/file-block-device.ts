import { promises as fsp, constants as fsConstants, write as fsWrite } from 'node:fs';
import { pread, pwritev } from '../../util/positional-io.js';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, TtjError, toTtjError } from '../../errors.js';
import type { BlockDevice } from './block-device.js';

/** Options of {@link FileBlockDevice.open}. */
export interface FileBlockDeviceOptions {
  /** Open read-only (the export is advertised read-only). Default false. */
  readOnly?: boolean;
  /** Preferred block size to advertise. Default 4096. */
  blockSize?: number;
  /**
   * What a TRIM does: `'zero'` (default) writes zeroes so the range reads back as zeroes,
   * like qemu-nbd punching a hole in a raw file; `'ignore'` does nothing (allowed by the
   * spec: trimmed contents are unspecified).
   */
  trim?: 'zero' | 'ignore';
  /** Create the file with this size if it does not exist (or extend/shrink it when `truncate`). */
  size?: number;
  /** With `size`: set an existing file's size to `size`. Default false. */
  truncate?: boolean;
}

const ZERO_CHUNK = 1024 * 1024;
let zeroChunk: Buffer | undefined;
function zeroes(): Buffer {
  zeroChunk ??= Buffer.alloc(ZERO_CHUNK);
  return zeroChunk;
}

// The callback API: measurably less overhead per call than FileHandle's promise methods.
function pwrite(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fsWrite(fd, buf, off, len, pos, (e, n) => (e ? reject(e) : resolve(n))));
}

/**
 * A raw file as a block device (what `qemu-nbd -f raw FILE` serves). Reads and writes are
 * positional (`pread`/`pwrite`) on one shared descriptor, so concurrent calls and several
 * connections are safe and there is no user-space cache: flush/FUA are `fdatasync`.
 */
export class FileBlockDevice implements BlockDevice {
  readonly canMultiConn = true;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly size: number,
    readonly readOnly: boolean,
    readonly blockSize: number,
    private readonly trimMode: 'zero' | 'ignore',
  ) {}

  /** Open (or with `size`, create) a raw image file. */
  static async open(path: string, opts: FileBlockDeviceOptions = {}): Promise<FileBlockDevice> {
    const readOnly = opts.readOnly ?? false;
    const blockSize = opts.blockSize ?? 4096;
    if (!Number.isInteger(blockSize) || blockSize < 512 || (blockSize & (blockSize - 1)) !== 0) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `block size must be a power of two >= 512, got ${blockSize}`);
    }
    if (opts.size !== undefined && (!Number.isSafeInteger(opts.size) || opts.size < 0)) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `bad device size ${opts.size}`);
    }
    let fh: FileHandle;
    try {
      if (readOnly) {
        fh = await fsp.open(path, fsConstants.O_RDONLY);
      } else if (opts.size !== undefined) {
        fh = await fsp.open(path, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
      } else {
        fh = await fsp.open(path, fsConstants.O_RDWR);
      }
    } catch (e) {
      throw toTtjError(e, { path, what: 'open disk image' });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() && !st.isBlockDevice()) {
        throw new TtjError(ErrorCodes.BAD_ARGUMENT, `not a regular file: ${path}`, { path });
      }
      let size = st.size;
      if (opts.size !== undefined && !readOnly && (size === 0 || (opts.truncate && size !== opts.size))) {
        await fh.truncate(opts.size);
        size = opts.size;
      }
      return new FileBlockDevice(fh, path, size, readOnly, blockSize, opts.trim ?? 'zero');
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw toTtjError(e, { path, what: 'open disk image' });
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(buf, 0, offset, length);
    return buf;
  }

  async readInto(target: Buffer, targetOffset: number, offset: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const bytesRead = await pread(this.fh.fd, target, targetOffset + done, length - done, offset + done);
      if (bytesRead === 0) {
        // The file shrank under us: what lies past its end reads as zeroes.
        target.fill(0, targetOffset + done, targetOffset + length);
        return;
      }
      done += bytesRead;
    }
  }

  async write(offset: number, data: Buffer, opts: { fua: boolean }): Promise<void> {
    this.checkWritable();
    let done = 0;
    while (done < data.length) {
      const bytesWritten = await pwrite(this.fh.fd, data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    if (opts.fua) await this.fh.datasync();
  }

  async writev(offset: number, data: Buffer[], opts: { fua: boolean }): Promise<void> {
    this.checkWritable();
    let bufs = data;
    let pos = offset;
    let left = bufs.reduce((a, b) => a + b.length, 0);
    while (left > 0) {
      // At most 1024 iovecs per call (IOV_MAX); a short write resumes where it stopped.
      const batch = bufs.length > 1024 ? bufs.slice(0, 1024) : bufs;
      let n = await pwritev(this.fh.fd, batch, pos);
      pos += n;
      left -= n;
      let i = 0;
      while (i < bufs.length && n >= bufs[i].length) n -= bufs[i++].length;
      bufs = bufs.slice(i);
      if (n > 0) bufs[0] = bufs[0].subarray(n);
    }
    if (opts.fua) await this.fh.datasync();
  }

  async writeZeroes(offset: number, length: number, opts: { fua: boolean; mayTrim: boolean }): Promise<void> {
    this.checkWritable();
    const z = zeroes();
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      // Up to 32 MiB per writev, every iovec the same shared zero chunk.
      const iov: Buffer[] = [];
      let batch = 0;
      while (pos + batch < end && iov.length < 32) {
        const n = Math.min(ZERO_CHUNK, end - pos - batch);
        iov.push(n === ZERO_CHUNK ? z : z.subarray(0, n));
        batch += n;
      }
      const { bytesWritten } = await this.fh.writev(iov, pos);
      pos += bytesWritten;
    }
    if (opts.fua) await this.fh.datasync();
  }

  async trim(offset: number, length: number): Promise<void> {
    this.checkWritable();
    if (this.trimMode === 'zero') await this.writeZeroes(offset, length, { fua: false, mayTrim: true });
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    await this.fh.datasync();
  }

  /** Close the file (after the server stopped serving it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  private checkWritable(): void {
    if (this.readOnly) throw new TtjError(ErrorCodes.READ_ONLY, `disk image is read-only: ${this.path}`, { path: this.path });
  }
}
