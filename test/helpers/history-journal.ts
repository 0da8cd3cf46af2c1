/**
 * A journal whose history holds what `diff` and `blame` must tell apart, built with
 * appendImages: a page that changes and changes back, two pages that exchange contents,
 * a page that becomes zero and a zero page that gets content, pages in several Merkle
 * chunks, disk writes at odd offsets (a disk with a short last block), a disk created
 * later, a block that changes and changes back, device state, frames and a label, and
 * one disk write outside any epoch (as the NBD server appends them).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { appendImages } from '../../src/journal/append-images.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';
import { memoryImage, png, randomPage, rng } from './images.js';

export const HPS = 4096;
/** Pages of memory: three Merkle chunks (1024 entries each), the last one partial. */
export const HPAGES = 2560;
/** Disk d: 64 KiB blocks, five whole ones and a short last block of 1536 bytes. */
export const DISK_BS = 65536;
export const DISK_SIZE = 5 * DISK_BS + 1536;
/** Disk s, created in epoch 1: 16 KiB in 4 KiB blocks (the block size that append gives). */
export const SMALL_SIZE = 16384;

/** The pages the history treats specially. */
export const P = { reverted: 5, swapA: 10, swapB: 11, toZero: 20, fromZero: 30, late: 1500, chunk2: 2100, untouched: 40 } as const;

/** What was built: the seq of the disk write outside an epoch, and its content. */
export interface History {
  outsideSeq: number;
}

const page = (img: Buffer, p: number) => img.subarray(p * HPS, (p + 1) * HPS);

/** Builds the history journal at `dir`; images are written under `work`. */
export async function buildHistoryJournal(dir: string, work: string): Promise<History> {
  const r = rng(77);
  const m0 = memoryImage(HPAGES, HPS, 7);
  for (const p of [P.reverted, P.swapA, P.swapB, P.toZero, P.untouched]) randomPage(page(m0, p), r);
  page(m0, P.fromZero).fill(0);
  const d0 = Buffer.alloc(DISK_SIZE);
  randomPage(d0.subarray(2 * DISK_BS, 3 * DISK_BS), r);

  const m1 = Buffer.from(m0);
  randomPage(page(m1, P.reverted), r);
  page(m0, P.swapB).copy(page(m1, P.swapA));
  page(m0, P.swapA).copy(page(m1, P.swapB));
  page(m1, P.toZero).fill(0);
  randomPage(page(m1, P.fromZero), r);
  randomPage(page(m1, P.chunk2), r);
  randomPage(page(m1, P.chunk2 + 1), r);
  const d1 = Buffer.from(d0);
  d1[65537] = 7; // one byte inside block 1
  d1.set([1, 2, 3, 4], 2 * DISK_BS - 2); // across the boundary of blocks 1 and 2
  randomPage(d1.subarray(4 * DISK_BS, 5 * DISK_BS), r); // changes back in epoch 2
  d1[DISK_SIZE - 1] = 0x55; // the disk's last byte, in the short block
  const s1 = Buffer.alloc(SMALL_SIZE);
  s1.write('small disk', 4096 + 3);

  const m2 = Buffer.from(m1);
  page(m0, P.reverted).copy(page(m2, P.reverted));
  randomPage(page(m2, P.late), r);
  const d2 = Buffer.from(d1);
  d0.copy(d2, 4 * DISK_BS, 4 * DISK_BS, 5 * DISK_BS);
  const s2 = Buffer.from(s1);

  const epochs = [
    { m: m0, d: d0, dev: Buffer.from('device state 0') },
    { m: m1, d: d1, s: s1, dev: Buffer.from('device state 1'), frames: [png(8, 8, 1)] },
    { m: m2, d: d2, s: s2, dev: Buffer.from('device state 1'), frames: [png(8, 8, 2), png(8, 8, 3)], label: 'after' },
  ];
  const w = await JournalWriter.openWriter(dir, { create: true, command: 'history journal' });
  try {
    for (const [e, x] of epochs.entries()) {
      const disks = [{ name: 'd', path: join(work, `d-${e}.raw`) }];
      writeFileSync(disks[0]!.path, x.d);
      if (x.s) {
        disks.push({ name: 's', path: join(work, `s-${e}.raw`) });
        writeFileSync(disks[1]!.path, x.s);
      }
      await appendImages(w, { memory: x.m, disks, device: x.dev, frames: x.frames, label: x.label, diskBlockSize: e === 1 ? 4096 : DISK_BS });
    }
    // A write of block 0 outside any epoch (the NBD server's kind).
    const block = Buffer.alloc(DISK_BS);
    block.write('written outside an epoch', 100);
    const res = await appendEventStream(w, encodeEventStream([{ blob: { data: block } }, { diskWrite: { disk: 'd', offset: 0, length: DISK_BS, blocks: [0], addrs: sha256(block) } }]));
    return { outsideSeq: res.lastSeq };
  } finally {
    await w.close();
  }
}
