/**
 * Push: bytes sent to bring a copy up to date, against a full copy. A journal of one
 * epoch of the memory-like guest is pushed to an empty destination (the full copy), then
 * an epoch with a share of the pages changed is appended and pushed again.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { appendImages } from '../../src/journal/append-images.js';
import { Journal } from '../../src/journal/journal.js';
import { push } from '../../src/journal/push.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { writeEpochImages } from './workload.js';

/** What the push section measured. */
export interface PushFigures {
  sizeMiB: number;
  dirtyFraction: number;
  /** Bytes sent by the push to the empty destination (events and blobs, uncompressed). */
  fullBytes: number;
  /** Bytes sent by the push of the second epoch, and the blob bytes it skipped. */
  incrementalBytes: number;
  incrementalSkippedBytes: number;
  incrementalBlobs: number;
  fullMs: number;
  incrementalMs: number;
  /** incrementalBytes / fullBytes. */
  ratio: number;
}

async function timedPush(src: string, dest: string) {
  const j = await Journal.open(src);
  try {
    const t0 = performance.now();
    const r = await push(j, dest);
    return { r, ms: performance.now() - t0 };
  } finally {
    await j.close();
  }
}

async function appendEpoch(journal: string, image: string): Promise<void> {
  const w = await JournalWriter.openWriter(journal);
  try {
    await appendImages(w, { memory: image });
  } finally {
    await w.close();
  }
}

/** Pushes a `sizeMiB` guest's journal to an empty destination, then again after an epoch with `dirtyFraction` of its pages changed. */
export async function pushBytes(scratch: string, sizeMiB: number, dirtyFraction: number): Promise<PushFigures> {
  const dir = join(scratch, 'push');
  mkdirSync(dir);
  try {
    const [e0, e1] = writeEpochImages(dir, sizeMiB, 2, dirtyFraction, 11) as [string, string];
    const src = join(dir, 'src.ttj');
    const dest = join(dir, 'dest.ttj');
    await appendEpoch(src, e0);
    const full = await timedPush(src, dest);
    await appendEpoch(src, e1);
    const inc = await timedPush(src, dest);
    return {
      sizeMiB,
      dirtyFraction,
      fullBytes: full.r.bytesSent,
      incrementalBytes: inc.r.bytesSent,
      incrementalSkippedBytes: inc.r.bytesSkipped,
      incrementalBlobs: inc.r.blobsSent,
      fullMs: full.ms,
      incrementalMs: inc.ms,
      ratio: inc.r.bytesSent / full.r.bytesSent,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
