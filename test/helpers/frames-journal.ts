/** Journals with video frames for the web timeline's tests and bench: memory, a disk and frames per epoch, built with appendImages. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendImages } from '../../src/journal/append-images.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { png } from './images.js';

/** Options of {@link makeFramesJournal}. */
export interface FramesJournalOptions {
  epochs: number;
  framesPerEpoch: number;
  /** Frame size (default 64x48). */
  width?: number;
  height?: number;
  /** Labels by epoch. */
  labels?: Record<number, string>;
  /** Append only epochs from this one on (the earlier ones were appended by an earlier call; default 0). */
  firstEpoch?: number;
}

const PAGE = 4096;
const PAGES = 64;
const DISK_BLOCK = 65536;
const DISK_BLOCKS = 4;

/**
 * Appends epochs `firstEpoch ..< epochs` to the journal at `dir` (created when new):
 * at epoch e, pages e % 64 and (7e) % 64 of a 256 KiB memory change, disk `d0` block e % 4
 * changes every other epoch, and `framesPerEpoch` grey frames follow each commit (frame
 * n's pixels depend on n). Work files go to `scratch`.
 */
export async function makeFramesJournal(dir: string, scratch: string, opts: FramesJournalOptions): Promise<void> {
  const mem = Buffer.alloc(PAGES * PAGE);
  const disk = Buffer.alloc(DISK_BLOCKS * DISK_BLOCK);
  const w = await JournalWriter.openWriter(dir, { create: true });
  try {
    for (let e = 0; e < opts.epochs; e++) {
      mem.writeUInt32LE(e + 1, (e % PAGES) * PAGE);
      mem.writeUInt32LE(e + 1, ((7 * e) % PAGES) * PAGE + 8);
      if (e % 2 === 0) disk.writeUInt32LE(e + 1, (e % DISK_BLOCKS) * DISK_BLOCK);
      if (e < (opts.firstEpoch ?? 0)) continue;
      const diskFile = join(scratch, 'd0.img');
      writeFileSync(diskFile, disk);
      const frames = Array.from({ length: opts.framesPerEpoch }, (_, k) => png(opts.width ?? 64, opts.height ?? 48, e * opts.framesPerEpoch + k));
      await appendImages(w, { memory: Buffer.from(mem), disks: [{ name: 'd0', path: diskFile }], frames, label: opts.labels?.[e] });
    }
  } finally {
    await w.close();
  }
}
