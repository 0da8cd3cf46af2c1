import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import type { GrepResult } from '../../src/journal/grep.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { memoryImage, randomPage, rng } from './images.js';
import { withJournal } from './with-journal.js';

/** The marker string the grep journal places, moves and removes. */
export const MARK = 'ttj-MARKER-q7';
export const PS = 4096;
/** Memory pages of the grep journal. */
const MEM_PAGES = 64;
/** The disk of the grep journal: 8 blocks of 64 KiB and a short last block of 512 bytes. */
export const DISK_BLOCK = 65536;
export const DISK_SIZE = 8 * DISK_BLOCK + 512;
export const EPOCHS = 6;

/**
 * Appends a journal of {@link EPOCHS} epochs (memory and disk `d0`) in which {@link MARK}:
 * - is at pfn 3 in epochs 0-1, gone in 2-3, back in 4-5 (a second span);
 * - moves to pfn 30 in epoch 2 (from pfn 3);
 * - is in pfn 10, zero in epoch 0, in epochs 1-3, and the page is zero again from 4;
 * - crosses the boundary of pfns 20/21 in epochs 1-2 and 4-5 (epoch 3 changes pfn 21's head;
 *   epoch 4 gives pfn 21 other content with the same head);
 * - starts pfn 41 (pfn 40 is zero) from epoch 1: a match of zero bytes + the marker crosses that boundary;
 * - is on the disk at 70000 in epochs 0-1, across the boundary of blocks 2/3 from epoch 1,
 *   and ends exactly at the disk's end (in its short last block) from epoch 3.
 * Other pages and blocks change every epoch.
 */
export async function writeGrepJournal(dir: string, scratch: string): Promise<void> {
  const mem = memoryImage(MEM_PAGES, PS, 5);
  const disk = Buffer.alloc(DISK_SIZE);
  const r = rng(77);
  for (let b = 0; b < 8; b += 2) randomPage(disk.subarray(b * DISK_BLOCK, b * DISK_BLOCK + 8192), r);
  const page = (p: number) => mem.subarray(p * PS, (p + 1) * PS);
  for (const p of [3, 10, 20, 21, 30, 40, 41]) page(p).fill(0x2e);
  page(10).fill(0);
  page(40).fill(0);
  const put = (buf: Buffer, at: number) => buf.write(MARK, at, 'latin1');
  const w = await JournalWriter.openWriter(dir, { create: true });
  try {
    for (let e = 0; e < EPOCHS; e++) {
      for (let k = 0; k < 4; k++) randomPage(page(50 + ((e * 4 + k) % 10)), r); // churn
      randomPage(disk.subarray(5 * DISK_BLOCK, 5 * DISK_BLOCK + 4096), r);
      if (e === 0) {
        put(page(3), 100);
        put(disk, 70000);
      }
      if (e === 1) {
        put(page(10), 2000);
        put(page(20), PS - 5);
        page(21).write(MARK.slice(5), 0, 'latin1');
        put(page(41), 0);
        put(disk, 3 * DISK_BLOCK - 4);
      }
      if (e === 2) {
        page(3).fill(0x2f);
        put(page(30), 500);
        disk.fill(0x41, 70000, 70000 + MARK.length);
      }
      if (e === 3) {
        page(21).fill(0x2d, 0, 3);
        page(20).write('x', 0, 'latin1'); // the tail stays
        put(disk, DISK_SIZE - MARK.length);
      }
      if (e === 4) {
        put(page(3), 100);
        page(10).fill(0);
        page(21).write(MARK.slice(5), 0, 'latin1');
        page(21).write('other content', 1000, 'latin1');
      }
      const diskPath = join(scratch, `d0-${e}.img`);
      writeFileSync(diskPath, disk);
      await appendImages(w, { memory: Buffer.from(mem), disks: [{ name: 'd0', path: diskPath }] });
    }
  } finally {
    await w.close();
  }
}

/** Where the pattern is in each epoch's fold: `memory:OFFSET` and `disk:NAME:OFFSET`, by brute force (fold, then search the files). */
export async function bruteForce(dir: string, scratch: string, pattern: Buffer, epochs: number[]): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>();
  for (const e of epochs) {
    const o = join(scratch, `fold-${e}`);
    const m = await withJournal(dir, (j) => fold(j, { at: `epoch:${e}`, out: o }));
    const found = new Set<string>();
    const search = (file: string, tag: string) => {
      const b = readFileSync(file);
      for (let i = b.indexOf(pattern); i >= 0; i = b.indexOf(pattern, i + 1)) found.add(`${tag}:${i}`);
    };
    if (m.memory) search(join(o, m.memory.file), 'memory');
    for (const d of m.disks) search(join(o, d.file), `disk:${d.name}`);
    out.set(e, found);
  }
  return out;
}

/** The same sets from a grep result: every place in every epoch its spans say hold it. */
export function fromGrep(r: GrepResult, epochs: number[]): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>(epochs.map((e) => [e, new Set<string>()]));
  for (const p of r.places) {
    const tag = p.where === 'memory' ? 'memory' : `disk:${p.disk}`;
    for (const s of p.spans) if (s.epochs) for (let e = s.epochs.first; e <= s.epochs.last; e++) out.get(e)?.add(`${tag}:${p.offset}`);
  }
  return out;
}
