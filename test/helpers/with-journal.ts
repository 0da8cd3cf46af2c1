import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';

/** Opens the journal at `dir` for reading, runs `f` on it, and closes it. */
export async function withJournal<T>(dir: string, f: (j: Journal) => Promise<T>): Promise<T> {
  const j = await Journal.open(dir);
  try {
    return await f(j);
  } finally {
    await j.close();
  }
}

/** Folds the journal at `dir` at `at` into `out` and returns disk `disk`'s bytes there. */
export async function foldDisk(dir: string, at: string, out: string, disk: string): Promise<Buffer> {
  await withJournal(dir, (j) => fold(j, { at, out }));
  return readFileSync(join(out, 'disks', `${disk}.raw`));
}
