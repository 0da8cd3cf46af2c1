/**
 * Append-only pack files hold the bytes of every blob, grouped into zstd-compressed
 * blocks (pages written together are read together). LevelDB holds only the small
 * location of each blob, so its compactions never rewrite blob bytes.
 *
 * Blocks are in the format of ./block-codec.ts (a stored block's items are copied
 * straight from the file on reads).
 *
 * Large appends are written with direct I/O where the file system allows it (see
 * src/native/direct-io.ts), the same bytes as through the page cache: an append is
 * written from the file's last 4 KiB boundary (re-writing the file's partial last page,
 * kept in memory) to its own end, its last page padded with zeroes. The file is
 * allocated ahead ({@link PREALLOCATE_BYTES}); while it is open it ends in zeroes after
 * its last block, and closing cuts them off (after a crash they stay: readers stop at
 * the first header that is not a block's). Small appends go through the page cache.
 */
import { constants as fsConstants } from 'node:fs';
import { open, readdir, mkdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, TtjError } from '../errors.js';
import { pread } from '../util/positional-io.js';
import { DIRECT_IO_ALIGN, openDirect, preadAligned, preallocate, pwriteAligned } from '../native/direct-io.js';
import { zeroPage } from '../util/zero-page.js';
import { DIR_MODE, fileModeIn } from './file-modes.js';
import { sliceBuffers } from '../util/slice-buffers.js';
import { BLOCK_HEADER, BLOCK_MAGIC, BLOCK_MAGIC_SEALED, BLOCK_MAGIC_STORED, encodeBlock, type BlockSeal } from './block-codec.js';
import type { JournalCipher } from './cipher.js';
import { DecodeError, decodeBlockInto, decodePool, ownBuffer, placeItems, type BlockDecodePool, type DecodeBuffers, type Decoded, type DecodeJob, type Placement } from './block-decode.js';
import { sha256Ranges } from '../native/index.js';

/** Buffers per pwritev call (Linux's IOV_MAX). */
const IOV_MAX = 1024;
/** A direct append is written in pieces of this size, in parallel (copy and write overlap). */
const DIRECT_PIECE = 4 * 1024 * 1024;
/** Appends smaller than this go through the page cache. */
const DIRECT_MIN = 256 * 1024;

/** True when the location is inside a stored (uncompressed) block. */
export function isStored(l: Pick<BlobLocation, 'clen' | 'rawLen'>): boolean {
  return l.clen === l.rawLen;
}
/** A pack file is closed and a new one started past this size (1 GiB). */
const PACK_ROTATE_BYTES = 1024 * 1024 * 1024;

/** Where one blob's bytes are: a block of a pack file, and a slice of that block. */
export interface BlobLocation {
  pack: number;
  offset: number;
  clen: number;
  rawLen: number;
  itemOff: number;
  itemLen: number;
  /**
   * Present when the blob is stored as a patch (a small disk write, see docs/format.md
   * "Blob locations"): its bytes are blob `base` (the zero address: zeroes) of
   * `fullLen` bytes with the item's bytes laid over at `at`; `depth` counts the
   * patches down to a whole blob (1 when `base` is whole or zero).
   */
  patch?: BlobPatchRef;
}

/** How a blob stored as a patch is made (see {@link BlobLocation.patch}). */
export interface BlobPatchRef {
  base: Buffer;
  at: number;
  fullLen: number;
  depth: number;
}

/** Bytes of a location entry: a whole blob's, and a patch's (the base's address, at, full length, depth). */
const LOCATION_LEN = 26;
const PATCH_LOCATION_LEN = LOCATION_LEN + 32 + 4 + 4 + 1;

export function encodeLocation(l: BlobLocation): Buffer {
  const b = Buffer.allocUnsafe(l.patch ? PATCH_LOCATION_LEN : LOCATION_LEN);
  b.writeUInt32LE(l.pack, 0);
  b.writeUIntLE(l.offset, 4, 6);
  b.writeUInt32LE(l.clen, 10);
  b.writeUInt32LE(l.rawLen, 14);
  b.writeUInt32LE(l.itemOff, 18);
  b.writeUInt32LE(l.itemLen, 22);
  if (l.patch) {
    l.patch.base.copy(b, LOCATION_LEN);
    b.writeUInt32LE(l.patch.at, LOCATION_LEN + 32);
    b.writeUInt32LE(l.patch.fullLen, LOCATION_LEN + 36);
    b.writeUInt8(l.patch.depth, LOCATION_LEN + 40);
  }
  return b;
}

export function decodeLocation(b: Buffer): BlobLocation {
  const l: BlobLocation = {
    pack: b.readUInt32LE(0),
    offset: b.readUIntLE(4, 6),
    clen: b.readUInt32LE(10),
    rawLen: b.readUInt32LE(14),
    itemOff: b.readUInt32LE(18),
    itemLen: b.readUInt32LE(22),
  };
  if (b.length >= PATCH_LOCATION_LEN) {
    l.patch = {
      base: Buffer.from(b.subarray(LOCATION_LEN, LOCATION_LEN + 32)),
      at: b.readUInt32LE(LOCATION_LEN + 32),
      fullLen: b.readUInt32LE(LOCATION_LEN + 36),
      depth: b.readUInt8(LOCATION_LEN + 40),
    };
  }
  return l;
}

/** The length of the blob a location holds (a patch's: its whole blob's). */
export function blobLength(l: BlobLocation): number {
  return l.patch ? l.patch.fullLen : l.itemLen;
}

export function packFileName(dir: string, pack: number): string {
  return join(dir, `${String(pack).padStart(8, '0')}.pack`);
}

/** Pack numbers present in `dir`, ascending. */
export async function listPacks(dir: string): Promise<number[]> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d{8}\.pack$/.test(n))
    .map((n) => Number(n.slice(0, 8)))
    .sort((a, b) => a - b);
}

/** Options of {@link PackWriter} and {@link PackReader}. */
export interface PackFileOptions {
  /**
   * Direct I/O (O_DIRECT, QEMU's `cache=none`) for blob bytes where the file system
   * and the native addon allow it; else the page cache. Default true.
   */
  direct?: boolean;
  /** A writer starts a new pack file once the current one holds this many bytes. Default {@link PACK_ROTATE_BYTES}. */
  rotateBytes?: number;
  /** An encrypted journal's cipher: every block is sealed for its pack and offset (./block-codec.ts). */
  cipher?: JournalCipher;
}

/** The seal of the block at `offset` of `pack` in an encrypted journal (undefined for a plain one). */
function packSeal(cipher: JournalCipher | undefined, pack: number, offset: number): BlockSeal | undefined {
  return cipher && { cipher, place: `pack ${pack} offset ${offset}` };
}

/**
 * A pack file written with direct I/O is allocated ahead in steps of this size (and
 * cut back to its last block when closed): direct writes inside the file then run in
 * parallel instead of one extending append after another (+20–40% measured).
 */
export const PREALLOCATE_BYTES = 64 * 1024 * 1024;

/** A position of a {@link PackWriter} ({@link PackWriter.mark}). */
export interface PackMark {
  readonly pack: number | undefined;
  readonly size: number;
  readonly tail: Buffer;
  readonly bytesWritten: number;
}

/** Appends compressed blocks to the newest pack file of one writer session. */
export class PackWriter {
  private fh: FileHandle | undefined;
  /** A direct I/O handle of the same file, when the file system allows one. */
  private dfh: FileHandle | undefined;
  /** The file's bytes after its last 4 KiB boundary (a direct write starts at that boundary). */
  private tail: Buffer = Buffer.alloc(0);
  private pack = 0;
  private size = 0;
  /** The file's size on disk: {@link size}, then zeroes (allocated ahead, or padding a direct write's last page). */
  private allocated = 0;
  /** The allocation ahead that is running. */
  private allocating: Promise<void> | undefined;
  /** False once the file system refused to allocate ahead (for this file). */
  private canAllocate = true;
  /** Bytes written to pack files by this writer (headers included). */
  bytesWritten = 0;
  private readonly wantDirect: boolean;

  private readonly rotateBytes: number;
  private readonly cipher: JournalCipher | undefined;

  constructor(
    private readonly dir: string,
    private readonly level = 1,
    opts: PackFileOptions = {},
  ) {
    this.wantDirect = opts.direct ?? true;
    this.rotateBytes = opts.rotateBytes ?? PACK_ROTATE_BYTES;
    this.cipher = opts.cipher;
  }

  private async ensureOpen(): Promise<void> {
    if (this.fh && this.size < this.rotateBytes) return;
    if (this.fh) {
      await this.trimAllocated();
      await this.fh.datasync();
      await this.close();
    }
    await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    // A new session never appends to an old pack: a crash may have left garbage at
    // its tail, after the last block any committed event refers to.
    const packs = await listPacks(this.dir);
    this.pack = (packs.length ? packs[packs.length - 1]! : 0) + 1;
    const path = packFileName(this.dir, this.pack);
    this.fh = await open(path, 'wx', await fileModeIn(this.dir));
    this.dfh = this.wantDirect ? await openDirect(path, fsConstants.O_WRONLY) : undefined;
    this.tail = Buffer.alloc(0);
    this.size = 0;
    this.allocated = 0;
    this.canAllocate = true;
  }

  /**
   * Makes sure the file is allocated past `end` (direct I/O only): waits for the
   * allocation ahead when the write needs it, and starts the next one half a step
   * early, so that it runs while the writes before it do.
   */
  private async allocateTo(end: number): Promise<void> {
    if (!this.dfh) return;
    if (this.allocating) {
      if (end <= this.allocated) return;
      await this.allocating;
    }
    if (!this.canAllocate || end <= this.allocated - PREALLOCATE_BYTES / 2) return;
    const from = this.allocated;
    const to = Math.max(end, from) + PREALLOCATE_BYTES;
    const run: Promise<void> = preallocate(this.fh!.fd, from, to - from).then((ok) => {
      if (this.allocating !== run) return; // the file was closed meanwhile
      this.allocating = undefined;
      if (ok) this.allocated = to;
      else this.canAllocate = false; // refused: the file grows by appends
    });
    this.allocating = run;
    if (end > from) await run;
  }

  /** Cuts the file back to its last block (the zeroes allocated ahead are not kept). */
  private async trimAllocated(): Promise<void> {
    const running = this.allocating;
    if (running) await running;
    if (this.fh && this.allocated > this.size) await this.fh.truncate(this.size);
    this.allocated = 0;
  }

  /** Where the next append starts: {@link rollback} to it undoes the appends made after. */
  mark(): PackMark {
    return { pack: this.fh ? this.pack : undefined, size: this.size, tail: this.tail, bytesWritten: this.bytesWritten };
  }

  /**
   * Undoes every append since `mark` (one that failed, or whose index write failed):
   * the pack file is cut back to its length then, and a pack file started since is
   * removed. Nothing refers to those bytes.
   */
  async rollback(mark: PackMark): Promise<void> {
    if (!this.fh) return;
    if (mark.pack !== this.pack) {
      // Started by the appends undone: it holds nothing else.
      const path = packFileName(this.dir, this.pack);
      await this.close();
      await unlink(path);
    } else {
      const running = this.allocating;
      if (running) await running;
      await this.fh.truncate(mark.size);
      this.size = mark.size;
      this.allocated = mark.size;
      this.tail = mark.tail;
    }
    this.bytesWritten = mark.bytesWritten;
  }

  /**
   * Appends one block per group of items (each compressed, or stored when zstd does
   * not shrink it), all in as few `pwritev` calls as the iovec limit allows; returns
   * each item's location, group by group.
   */
  async appendBlocks(groups: Buffer[][]): Promise<BlobLocation[][]> {
    await this.ensureOpen();
    const iov: Buffer[] = [];
    const out: BlobLocation[][] = [];
    let offset = this.size;
    for (const items of groups) {
      const { head, body, clen, rawLen } = encodeBlock(items, this.level, packSeal(this.cipher, this.pack, offset));
      iov.push(head, ...body);
      const locs: BlobLocation[] = [];
      let itemOff = 0;
      for (const it of items) {
        locs.push({ pack: this.pack, offset, clen, rawLen, itemOff, itemLen: it.length });
        itemOff += it.length;
      }
      out.push(locs);
      offset += BLOCK_HEADER + clen;
    }
    const total = offset - this.size;
    const parts = this.tail.length ? [this.tail, ...iov] : iov;
    const start = this.size - this.tail.length;
    const len = this.tail.length + total;
    if (this.dfh && len >= DIRECT_MIN) {
      // All of it with direct I/O, the last page padded with zeroes (the next append
      // writes that page again, whole): nothing goes through the page cache, where a
      // write would wait for the direct ones to finish (the inode lock).
      await this.allocateTo(start + len);
      const pad = (DIRECT_IO_ALIGN - (len % DIRECT_IO_ALIGN)) % DIRECT_IO_ALIGN;
      await this.writeDirect(this.dfh.fd, pad ? [...parts, zeroPage(pad)] : parts, start, len + pad);
      this.allocated = Math.max(this.allocated, start + len + pad);
    } else {
      // Small appends through the page cache (without the tail again).
      await this.writeBuffered(parts, start, this.tail.length, len);
    }
    this.tail = lastBytes(parts, (start + len) % DIRECT_IO_ALIGN);
    this.size += total;
    this.bytesWritten += total;
    return out;
  }

  /**
   * Writes bytes `[0, length)` of `parts` (`length` a multiple of 4 KiB) at `start` (on
   * a 4 KiB boundary) with direct I/O, in pieces written in parallel.
   */
  private async writeDirect(fd: number, parts: Buffer[], start: number, length: number): Promise<void> {
    const pieces: Promise<number>[] = [];
    for (let from = 0; from < length; from += DIRECT_PIECE) {
      const to = Math.min(length, from + DIRECT_PIECE);
      pieces.push(pwriteAligned(fd, sliceBuffers(parts, from, to), start + from, true));
    }
    const written = (await Promise.all(pieces)).reduce((a, b) => a + b, 0);
    if (written !== length) throw new TtjError(ErrorCodes.INTERNAL, `short write to pack ${this.pack}: ${written} of ${length} bytes`);
  }

  /** Writes bytes `[from, to)` of `parts` at `start + from` through the page cache, IOV_MAX buffers per call. */
  private async writeBuffered(parts: Buffer[], start: number, from: number, to: number): Promise<void> {
    if (from >= to) return;
    const iov = sliceBuffers(parts, from, to);
    let pos = start + from;
    for (let i = 0; i < iov.length; i += IOV_MAX) {
      const part = iov.slice(i, i + IOV_MAX);
      const want = part.reduce((a, b) => a + b.length, 0);
      // After a short write (a file system filling up), on from the first byte not
      // written: the next call writes it or reports why not (ENOSPC).
      for (let done = 0; done < want;) {
        const { bytesWritten } = await this.fh!.writev(done ? sliceBuffers(part, done, want) : part, pos + done);
        if (bytesWritten <= 0) throw new TtjError(ErrorCodes.INTERNAL, `pack ${this.pack}: a write wrote nothing`);
        done += bytesWritten;
      }
      pos += want;
    }
  }

  /** Makes every appended block durable. */
  async sync(): Promise<void> {
    if (this.fh) await this.fh.datasync();
  }

  /** The pack file appends go to now (undefined until the first append, and after {@link finishPack}). */
  get currentPack(): number | undefined {
    return this.fh ? this.pack : undefined;
  }

  /** Closes the current pack file (durable, cut to its last block): the next append starts a new one, and this one may be compacted. */
  async finishPack(): Promise<void> {
    if (!this.fh) return;
    await this.trimAllocated();
    await this.fh.datasync();
    await this.close();
  }

  async close(): Promise<void> {
    await this.trimAllocated();
    if (this.fh) await this.fh.close();
    if (this.dfh) await this.dfh.close();
    this.fh = undefined;
    this.dfh = undefined;
  }
}

/** A copy of the last `n` bytes of the concatenation of `parts`. */
function lastBytes(parts: Buffer[], n: number): Buffer {
  const total = parts.reduce((a, p) => a + p.length, 0);
  return Buffer.concat(sliceBuffers(parts, total - n, total), n);
}

/** Reused buffers of one bulk reader ({@link PackReader.readBlockInto}). */
export type BlockScratch = DecodeBuffers;

export class PackReader {
  private readonly fds = new Map<number, Promise<FileHandle>>();
  /** Direct I/O handles for stored-block reads (undefined: the file system refuses them). */
  private readonly directFds = new Map<number, Promise<FileHandle | undefined>>();
  private readonly direct: boolean;
  private readonly cache = new Map<string, Buffer>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private cacheBytes = 0;
  private readonly cipher: JournalCipher | undefined;

  constructor(
    private readonly dir: string,
    private readonly cacheLimit = 64 * 1024 * 1024,
    opts: PackFileOptions = {},
  ) {
    this.direct = opts.direct ?? true;
    this.cipher = opts.cipher;
  }

  private directFd(pack: number): Promise<FileHandle | undefined> {
    let fh = this.directFds.get(pack);
    if (!fh) {
      fh = this.fd(pack).then(() => openDirect(packFileName(this.dir, pack), fsConstants.O_RDONLY));
      fh.catch(() => this.directFds.delete(pack));
      this.directFds.set(pack, fh);
    }
    return fh;
  }

  private fd(pack: number): Promise<FileHandle> {
    // The promise is cached, so concurrent readers of one pack share one handle.
    let fh = this.fds.get(pack);
    if (!fh) {
      const path = packFileName(this.dir, pack);
      fh = open(path, 'r').catch((e: unknown) => {
        this.fds.delete(pack);
        throw new TtjError(ErrorCodes.CORRUPT_BLOB, `pack file ${path} is missing`, { path }, { cause: e });
      });
      this.fds.set(pack, fh);
    }
    return fh;
  }

  /** The decompressed bytes of the block at `loc`; throws CORRUPT_BLOB when damaged. */
  async readBlock(loc: Pick<BlobLocation, 'pack' | 'offset' | 'clen' | 'rawLen'>): Promise<Buffer> {
    const key = `${loc.pack}:${loc.offset}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    // Concurrent readers of one block share one read and one decompression.
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.loadBlock(loc, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * For bulk reads (a fold, verify --deep): the block at `loc` decompressed into
   * `scratch` (grown when too small) instead of a new buffer, and not kept in the block
   * cache (a bulk read would only churn it); with `ranges`, the SHA-256 of those item
   * ranges too. Decompression and hashing run in the worker pool (./block-decode.ts)
   * when there is one. The views returned are valid until `scratch` is used again. A
   * block already in the cache is returned from there. With `place` (and `ranges`), the
   * items are checked and copied where it says by the thread that decoded them
   * ({@link placeItems}; `mismatch` names the first that did not hash as expected).
   * @throws TtjError CORRUPT_BLOB when the block is damaged.
   */
  async readBlockInto(loc: Pick<BlobLocation, 'pack' | 'offset' | 'clen' | 'rawLen'>, scratch: BlockScratch, ranges?: { offsets: Uint32Array; lengths: Uint32Array }, place?: Placement): Promise<Decoded> {
    const hit = this.cache.get(`${loc.pack}:${loc.offset}`);
    if (hit) {
      const hashes = ranges ? sha256Ranges(hit, ranges.offsets, ranges.lengths) : undefined;
      return { items: hit, hashes, mismatch: ranges && hashes && place ? placeItems(hit, hashes, { ...ranges, place }) : undefined };
    }
    return this.readRaw(loc, scratch, ranges, decodePool(), place);
  }

  /**
   * Reads the block at `loc` into `scratch.packed`, checks its header and decodes it
   * (into `scratch.raw` for a compressed block, each grown when too small; a stored
   * block's items are returned from `scratch.packed`), in `pool` when given.
   */
  private async readRaw(
    loc: Pick<BlobLocation, 'pack' | 'offset' | 'clen' | 'rawLen'>,
    scratch: BlockScratch,
    ranges?: { offsets: Uint32Array; lengths: Uint32Array },
    pool?: BlockDecodePool,
    place?: Placement,
  ): Promise<Decoded> {
    const where = { pack: loc.pack, offset: loc.offset };
    const fh = await this.fd(loc.pack);
    const len = BLOCK_HEADER + loc.clen;
    if (scratch.packed.length < len) scratch.packed = ownBuffer(len);
    const buf = scratch.packed.subarray(0, len);
    const { bytesRead } = await fh.read(buf, 0, buf.length, loc.offset);
    if (bytesRead !== buf.length) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `pack ${loc.pack} block at ${loc.offset} is cut short`, where);
    const stored = isStored(loc);
    // An encrypted journal's block is opened where it is decoded (in the pool: off this
    // thread), and its plain header checked there; a plain block's header is checked here.
    const open = this.cipher?.openKey(packSeal(this.cipher, loc.pack, loc.offset)!.place);
    if (!open && (buf.readUInt32LE(0) !== (stored ? BLOCK_MAGIC_STORED : BLOCK_MAGIC) || buf.readUInt32LE(4) !== loc.rawLen)) {
      throw new TtjError(ErrorCodes.CORRUPT_BLOB, `pack ${loc.pack} block at ${loc.offset} has a damaged header`, where);
    }
    const job: DecodeJob = { len, rawLen: loc.rawLen, stored: !open && stored, open, offsets: ranges?.offsets, lengths: ranges?.lengths, place: ranges && place };
    try {
      return pool ? await pool.decode(scratch, job) : decodeBlockInto(scratch, job);
    } catch (e) {
      if (e instanceof DecodeError) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `pack ${loc.pack} block at ${loc.offset} ${e.failure}`, where, { cause: e });
      throw e;
    }
  }

  private async loadBlock(loc: Pick<BlobLocation, 'pack' | 'offset' | 'clen' | 'rawLen'>, key: string): Promise<Buffer> {
    // Buffers of its own, of the block's sizes: it is kept in the cache.
    const raw = (await this.readRaw(loc, { packed: Buffer.alloc(0), raw: Buffer.alloc(0) })).items;
    this.cache.set(key, raw);
    this.cacheBytes += raw.length;
    while (this.cacheBytes > this.cacheLimit && this.cache.size > 1) {
      const [k, v] = this.cache.entries().next().value as [string, Buffer];
      this.cache.delete(k);
      this.cacheBytes -= v.length;
    }
    return raw;
  }

  /**
   * Copies `length` bytes of a stored block's items, from byte `itemOff` of the block
   * at `offset`, straight from the pack file into `target` (no cache, no check).
   * `buffered`: through the page cache even in cache mode `none` (small items written
   * moments ago, such as patches, are there; a direct read would first have to write
   * them back).
   * @throws TtjError CORRUPT_BLOB when the pack file ends early.
   */
  async readStored(pack: number, offset: number, itemOff: number, target: Buffer, targetOffset: number, length: number, buffered = false): Promise<void> {
    const short = () => new TtjError(ErrorCodes.CORRUPT_BLOB, `pack ${pack} ends inside the block at ${offset}`, { pack, offset });
    const direct = this.direct && !buffered ? await this.directFd(pack) : undefined;
    if (direct) {
      // Straight from the disk (direct I/O), like the writes: no page-cache copy.
      if ((await preadAligned(direct.fd, offset + BLOCK_HEADER + itemOff, length, target, targetOffset, true)) !== length) throw short();
      return;
    }
    const fd = (await this.fd(pack)).fd;
    let done = 0;
    while (done < length) {
      const bytesRead = await pread(fd, target, targetOffset + done, length - done, offset + BLOCK_HEADER + itemOff + done);
      if (bytesRead === 0) throw short();
      done += bytesRead;
    }
  }

  /** Walks every block header of a pack file (for verify and statistics). */
  async *blocks(pack: number): AsyncIterable<{ offset: number; rawLen: number; clen: number; items: number }> {
    const fh = await this.fd(pack);
    const { size } = await fh.stat();
    const head = Buffer.allocUnsafe(BLOCK_HEADER);
    let off = 0;
    while (off + BLOCK_HEADER <= size) {
      await fh.read(head, 0, BLOCK_HEADER, off);
      const magic = head.readUInt32LE(0);
      if (magic !== BLOCK_MAGIC && magic !== BLOCK_MAGIC_STORED && magic !== BLOCK_MAGIC_SEALED) return; // an uncommitted tail
      const b = { offset: off, rawLen: head.readUInt32LE(4), clen: head.readUInt32LE(8), items: head.readUInt32LE(12) };
      yield b;
      off += BLOCK_HEADER + b.clen;
    }
  }

  /** Closes pack `pack` and drops its cached blocks (a compaction removed it). */
  async forget(pack: number): Promise<void> {
    const fh = this.fds.get(pack);
    const dfh = this.directFds.get(pack);
    this.fds.delete(pack);
    this.directFds.delete(pack);
    await fh?.then((h) => h.close()).catch(() => undefined);
    await dfh?.then((h) => h?.close()).catch(() => undefined);
    for (const [k, v] of this.cache) {
      if (k.startsWith(`${pack}:`)) {
        this.cache.delete(k);
        this.cacheBytes -= v.length;
      }
    }
  }

  async close(): Promise<void> {
    for (const fh of this.fds.values()) await fh.then((h) => h.close()).catch(() => undefined);
    for (const fh of this.directFds.values()) await fh.then((h) => h?.close()).catch(() => undefined);
    this.fds.clear();
    this.directFds.clear();
    this.cache.clear();
    this.cacheBytes = 0;
  }
}
