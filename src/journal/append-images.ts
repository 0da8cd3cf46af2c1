import { readFile, stat } from 'node:fs/promises';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import type { BlobPut } from '../store/store.js';
import type { PcmLayout } from './audio-format.js';
import { AUDIO_CHUNK, chunkContent, DEVICE_CHUNK, FRAME_CHUNK } from './chunks.js';
import type { IEvent } from './codec.js';
import { DISK_SECTOR, isDiskSize } from './disk-geometry.js';
import { diffChangedPages, diffImage, type ChangedPages } from './image-diff.js';
import { diskWriteEvents, pageEvents } from './change-events.js';
import { pngInfo } from './png.js';
import { MAX_DISK_BLOCK_SIZE } from './vm-state.js';
import type { CommitResult, JournalWriter } from './writer.js';
import { isPowerOfTwo } from '../util/power-of-two.js';

/** Block size of a new disk when none is given: 64 KiB, like qcow2's default cluster. */
export const DEFAULT_DISK_BLOCK_SIZE = 64 * 1024;

/**
 * The block size a new disk of `size` bytes gets: `wanted`, or without `wanted` the
 * largest power of two from the page size up to {@link DEFAULT_DISK_BLOCK_SIZE} that
 * divides the size, or {@link DEFAULT_DISK_BLOCK_SIZE} itself when none does (a disk
 * that is not a whole number of pages). A size that is not a whole number of blocks
 * gets a short last block.
 * @throws TtjError BAD_ARGUMENT (a block size that is not a power of two from the page size to 1 MiB).
 */
export function diskBlockSizeFor(size: number, pageSize: number, wanted?: number): number {
  if (wanted !== undefined) {
    if (!Number.isInteger(wanted) || wanted < pageSize || wanted > MAX_DISK_BLOCK_SIZE || !isPowerOfTwo(wanted)) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `disk block size ${wanted} is not a power of two from the page size (${pageSize}) to 1 MiB`);
    }
    return wanted;
  }
  const largest = Math.max(DEFAULT_DISK_BLOCK_SIZE, pageSize);
  for (let bs = largest; bs >= pageSize; bs /= 2) if (size % bs === 0) return bs;
  return largest;
}

/**
 * Checks the size of a disk image: a positive whole number of 512-byte sectors.
 * @throws TtjError SIZE_MISMATCH.
 */
export function checkDiskImageSize(size: number, path: string): void {
  if (!isDiskSize(size)) {
    throw new TtjError(ErrorCodes.SIZE_MISMATCH, `disk image ${path} is ${size} bytes, not a whole number of ${DISK_SECTOR}-byte sectors`, { path, actual: size });
  }
}

/** PCM sound the guest played, appended as an audio event (docs/format.md, "Audio"). */
export interface AudioInput extends PcmLayout {
  /** Interleaved samples: a whole number of sample frames. */
  pcm: Buffer;
  /** Index of its first sample frame in its recording's stream. */
  firstSample: number;
}

/** Inputs of one epoch appended from plain images (any hypervisor's). */
export interface ImageEpochInput {
  /** A raw guest RAM image (a file or its bytes); its size is fixed by the first one appended. */
  memory?: string | Buffer;
  /** Raw disk images by disk name; a disk's size is fixed by its first image. */
  disks?: { name: string; path: string }[];
  /** An opaque device state (a file or its bytes). */
  device?: string | Buffer;
  /**
   * Sound the guest played up to this capture, appended first (before the epoch and the
   * frames), so it is bound to the epoch committed before; that epoch must exist.
   */
  audio?: AudioInput[];
  /** PNG frames (files or bytes), appended after the epoch and bound to it. */
  frames?: (string | Buffer)[];
  /** A label for the epoch (or, with no images, for the last committed epoch). */
  label?: string;
  /**
   * For a `memory` buffer: the page fingerprints returned by the previous append of
   * this memory (its result's `memoryFingerprints`); only pages whose fingerprint
   * changed are hashed. The caller guarantees the head's memory came from that append.
   */
  memoryFingerprints?: Buffer;
  /**
   * Instead of `memory`: only the pages of the guest memory that may have changed since
   * the head (every page not listed is unchanged), as `ttj record` finds them in the RAM
   * file; its `size` is checked like a memory image's. The blobs stored are views of
   * its `pages`, which must not change until the append resolves.
   */
  memoryPages?: ChangedPages;
  /**
   * Block size of disks created by this append (existing disks keep theirs).
   * Default: see {@link diskBlockSizeFor}.
   */
  diskBlockSize?: number;
  /** Progress in bytes scanned. */
  onProgress?: (done: number, total: number) => void;
  /**
   * How long the VM was paused to capture these images, µs (a recorder's measurement):
   * stored on the epoch's commit (docs/format.md, "Pause time"). Default: not recorded.
   */
  pauseUs?: number;
}

/** What {@link appendImages} did. */
export interface AppendImagesResult extends CommitResult {
  epoch?: number;
  dirtyPages: number;
  zeroPages: number;
  diskBlocks: number;
  scannedBytes: number;
  /** Page fingerprints of the memory image (buffer input): pass to the next append. */
  memoryFingerprints?: Buffer;
}

async function sizeOf(path: string | Buffer): Promise<number> {
  if (Buffer.isBuffer(path)) return path.length;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new TtjError(ErrorCodes.FILE_NOT_FOUND, `${path} is not a regular file`, { path });
    return st.size;
  } catch (e) {
    throw toTtjError(e, { path });
  }
}

/**
 * {@link ChangedPages} that fit their memory: pfns ascending and inside it, their bytes all there.
 * @throws TtjError BAD_ARGUMENT.
 */
function checkChangedPages(c: ChangedPages, pageSize: number): void {
  const pages = c.size / pageSize;
  const ascendingInside = (xs: Uint32Array) => xs.every((p, i) => p < pages && (i === 0 || p > xs[i - 1]!));
  if (!ascendingInside(c.pfns) || !ascendingInside(c.zeroPfns) || c.pages.length < c.pfns.length * pageSize) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `memory pages: pfns must be ascending pages of the ${c.size}-byte memory, with ${pageSize} bytes each`);
  }
}

const name = (s: string | Buffer) => (typeof s === 'string' ? s : 'memory buffer');

async function bytesOf(source: string | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(source)) return source;
  try {
    return await readFile(source);
  } catch (e) {
    throw toTtjError(e, { path: source });
  }
}

/**
 * Appends one checkpoint epoch from images: finds the pages and blocks that changed
 * since the head by hashing, stores only those (zero pages not at all; identical
 * content once), then the frames bound to it. Everything is checked before anything
 * is written: bad input leaves the journal unchanged.
 * @throws TtjError SIZE_MISMATCH, FILE_NOT_FOUND, NOT_PNG, NO_EPOCH.
 */
export async function appendImages(w: JournalWriter, input: ImageEpochInput): Promise<AppendImagesResult> {
  const ps = w.pageSize;
  const state = w.headState;
  const disks = input.disks ?? [];
  // 1. Check everything first.
  let memSize = 0;
  if (input.memory && input.memoryPages) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'give memory or memoryPages, not both');
  const memory = input.memory ?? (input.memoryPages ? 'memory pages' : undefined);
  if (memory) {
    memSize = input.memoryPages ? input.memoryPages.size : await sizeOf(input.memory!);
    if (memSize === 0 || memSize % ps) {
      throw new TtjError(ErrorCodes.SIZE_MISMATCH, `memory image ${name(memory)} is ${memSize} bytes, not a whole number of ${ps}-byte pages`, { path: name(memory), actual: memSize });
    }
    if (state.memory && memSize !== state.memorySize) {
      throw new TtjError(ErrorCodes.SIZE_MISMATCH, `memory image ${name(memory)} is ${memSize} bytes but the journal's memory is ${state.memorySize}`, {
        path: name(memory),
        expected: state.memorySize,
        actual: memSize,
      });
    }
  }
  if (input.memoryPages) checkChangedPages(input.memoryPages, ps);
  const seen = new Set<string>();
  const diskSizes: number[] = [];
  const blockSizes: number[] = [];
  for (const d of disks) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(d.name)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `bad disk name ${JSON.stringify(d.name)} (letters, digits, . _ -)`);
    if (seen.has(d.name)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `disk ${d.name} is given twice`);
    seen.add(d.name);
    const size = await sizeOf(d.path);
    const have = state.disks.get(d.name);
    checkDiskImageSize(size, d.path);
    if (have && have.size !== size) {
      throw new TtjError(ErrorCodes.SIZE_MISMATCH, `disk ${d.name} is ${have.size} bytes in the journal but ${d.path} is ${size}`, { path: d.path, expected: have.size, actual: size });
    }
    diskSizes.push(size);
    blockSizes.push(have ? have.blockSize : diskBlockSizeFor(size, ps, input.diskBlockSize));
  }
  const device = input.device === undefined ? undefined : await bytesOf(input.device);
  const frames: { data: Buffer; width: number; height: number }[] = [];
  for (const [i, f] of (input.frames ?? []).entries()) {
    const data = await bytesOf(f);
    frames.push({ data, ...pngInfo(data, typeof f === 'string' ? f : `frame ${i}`) });
  }
  const hasEpoch = !!(memory || disks.length || device);
  const audio = (input.audio ?? []).filter((a) => a.pcm.length > 0);
  if (!hasEpoch && !frames.length && !audio.length && !input.label) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'nothing to append: give --memory, --disk, --device, --frame or --label');
  if (!hasEpoch && w.lastCommittedEpoch < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'the journal has no committed epoch to bind frames or a label to');
  if (audio.length && w.lastCommittedEpoch < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'the journal has no committed epoch to bind audio to');

  // 2. Build the epoch.
  const bodies: IEvent[] = [];
  const blobs: BlobPut[] = [];
  const total = memSize + diskSizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const progress = (base: number) => (n: number) => input.onProgress?.(base + n, total);
  let dirtyPages = 0;
  let zeroPages = 0;
  let diskBlocks = 0;
  let memoryFingerprints: Buffer | undefined;
  // The sound played up to this capture comes first: bound to the epoch before.
  for (const a of audio) {
    const c = chunkContent(a.pcm, AUDIO_CHUNK);
    const { sampleRate, channels, format, firstSample } = a;
    bodies.push({ audio: { firstSample, sampleRate, channels, format, length: a.pcm.length, chunkSize: AUDIO_CHUNK, chunkAddrs: c.chunkAddrs, contentHash: c.contentHash } });
    blobs.push(...c.blobs);
  }
  if (hasEpoch) {
    bodies.push({ epochBegin: { epoch: w.nextEpochNumber } });
    if (memory) {
      if (!state.memory) bodies.push({ memoryLayout: { size: memSize } });
      const diff = input.memoryPages ? await diffChangedPages(input.memoryPages, ps, state.memory) : await diffImage(input.memory!, ps, state.memory, progress(done), state.memory ? input.memoryFingerprints : undefined);
      if (input.memoryPages) progress(done)(memSize);
      memoryFingerprints = diff.fingerprints;
      done += memSize;
      dirtyPages = diff.pfns.length + diff.zeroPfns.length;
      zeroPages = diff.zeroPfns.length;
      pageEvents(diff, bodies);
      blobs.push(...diff.blobs);
    }
    for (let i = 0; i < disks.length; i++) {
      const d = disks[i]!;
      const have = state.disks.get(d.name);
      const bs = blockSizes[i]!;
      if (!have) bodies.push({ diskCreate: { name: d.name, size: diskSizes[i]!, blockSize: bs } });
      const diff = await diffImage(d.path, bs, have?.table, progress(done));
      done += diskSizes[i]!;
      diskBlocks += diff.pfns.length + diff.zeroPfns.length;
      diskWriteEvents(d.name, diskSizes[i]!, bs, diff, bodies);
      blobs.push(...diff.blobs);
    }
    if (device) {
      const c = chunkContent(device, DEVICE_CHUNK);
      if (!state.device || !state.device.contentHash.equals(c.contentHash)) {
        bodies.push({ device: { length: device.length, chunkSize: DEVICE_CHUNK, chunkAddrs: c.chunkAddrs, contentHash: c.contentHash } });
        blobs.push(...c.blobs);
      }
    }
    if (input.label) bodies.push({ label: { text: input.label } });
    bodies.push({ epochCommit: { epoch: w.nextEpochNumber, ...(input.pauseUs === undefined ? {} : { pauseUs: input.pauseUs }) } });
  } else if (input.label) {
    bodies.push({ label: { text: input.label } });
  }
  for (const f of frames) {
    const c = chunkContent(f.data, FRAME_CHUNK);
    bodies.push({ frame: { format: 'png', width: f.width, height: f.height, length: f.data.length, chunkSize: FRAME_CHUNK, chunkAddrs: c.chunkAddrs, contentHash: c.contentHash } });
    blobs.push(...c.blobs);
  }
  const res = await w.commit(bodies, blobs);
  return { ...res, epoch: res.epochs[0]?.epoch, dirtyPages, zeroPages, diskBlocks, scannedBytes: total, memoryFingerprints };
}
