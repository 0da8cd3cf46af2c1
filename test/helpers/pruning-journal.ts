/**
 * A journal with history worth pruning, and what a prune must leave as it was: every
 * epoch dirties pages of a hot region (random, so each version is its own blob; some pages get an
 * earlier epoch's content back), writes a disk block, changes the device state now and
 * then, and has a frame; some epochs are labelled; a disk write stands between epochs
 * (as the NBD server appends them). {@link foldPoints} folds points and hashes the
 * output, to compare before and after a prune.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { isTtjError } from '../../src/errors.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';
import { fileHashes } from './file-hashes.js';
import { memoryImage, png, randomPage, rng } from './images.js';
import { withJournal } from './with-journal.js';

export const PPS = 4096;
const PAGES = 512;
const DISK_BLOCKS = 64;
const HOT_PAGES = 64;

/** Options of {@link buildPruningJournal}. */
export interface PruningJournalOptions {
  epochs: number;
  /** Pages dirtied per epoch. Default 48. */
  dirtyPages?: number;
  /** Labels by epoch. */
  labels?: Record<number, string>;
}

/** Appends `n` epochs to the journal `w` writes, continuing from `from` (see the module comment). */
export async function appendPruningEpochs(w: JournalWriter, work: string, from: number, n: number, opts: PruningJournalOptions): Promise<void> {
  const mem = memoryImage(PAGES, PPS, 5);
  const disk = Buffer.alloc(DISK_BLOCKS * PPS);
  const r = rng(11);
  const diskPath = join(work, 'prune-disk.raw');
  for (let e = 0; e < from + n; e++) {
    // Pages of a hot region (the first 64) get new random content each epoch: old versions become garbage.
    for (let k = 0; k < (opts.dirtyPages ?? 48); k++) {
      const p = r() % HOT_PAGES;
      randomPage(mem.subarray(p * PPS, (p + 1) * PPS), r);
    }
    // Content that comes back: page 7 takes page 3's content of three epochs ago.
    if (e % 5 === 4) mem.copy(mem, 7 * PPS, 3 * PPS, 4 * PPS);
    randomPage(disk.subarray((e % DISK_BLOCKS) * PPS, ((e % DISK_BLOCKS) + 1) * PPS), r);
    if (e < from) continue;
    writeFileSync(diskPath, disk);
    await appendImages(w, {
      memory: mem,
      disks: [{ name: 'd', path: diskPath }],
      diskBlockSize: PPS,
      device: e % 3 === 0 ? Buffer.from(`device state ${e}`) : undefined,
      frames: [png(8, 8, e + 1)],
      label: opts.labels?.[e],
    });
    if (e % 4 === 1) {
      const block = Buffer.alloc(PPS);
      randomPage(block, r);
      await appendEventStream(w, encodeEventStream([{ blob: { data: block } }, { diskWrite: { disk: 'd', offset: 5 * PPS, length: PPS, blocks: [0], addrs: sha256(block) } }]));
    }
  }
}

/** Builds the journal at `dir` (images under `work`). */
export async function buildPruningJournal(dir: string, work: string, opts: PruningJournalOptions): Promise<void> {
  const w = await JournalWriter.openWriter(dir, { create: true, command: 'pruning journal' });
  try {
    await appendPruningEpochs(w, work, 0, opts.epochs, opts);
  } finally {
    await w.close();
  }
}

/** Every point worth folding: each epoch, each frame, and each seq from the first commit on. */
export async function everyPoint(dir: string): Promise<string[]> {
  return withJournal(dir, async (j) => {
    const points: string[] = [];
    for await (const e of j.epochs()) points.push(`epoch:${e.epoch}`);
    for await (const f of j.frames()) points.push(`frame:${f.frame}`);
    const head = (await j.storeHead())!.seq;
    for (let s = 0; s <= head; s++) points.push(`seq:${s}`);
    return points;
  });
}

/** What folding a point gave: the hash of each output file, or the error code. */
export type Folded = Record<string, string>;

/** Folds each of `points` of the journal at `dir` into `work` and hashes the output (or records the error code). */
export async function foldPoints(dir: string, work: string, points: readonly string[]): Promise<Map<string, Folded | string>> {
  const out = new Map<string, Folded | string>();
  await withJournal(dir, async (j) => {
    for (const at of points) {
      const o = join(work, 'fold');
      rmSync(o, { recursive: true, force: true });
      try {
        await fold(j, { at, out: o });
        out.set(at, fileHashes(o));
      } catch (e) {
        if (!isTtjError(e)) throw e;
        out.set(at, e.code);
      }
    }
  });
  return out;
}

/** Bytes of the files under `dir` (their sizes, as `du --apparent-size` counts them). */
export function dirBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    n += s.isDirectory() ? dirBytes(p) : s.size;
  }
  return n;
}
