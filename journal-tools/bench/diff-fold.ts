/**
 * Diff against fold: `ttj diff` of two epochs compares their page tables (equal Merkle
 * chunks skipped) and reads no page, so it should cost a small part of folding one of
 * them. Two epochs of the workload are appended, then the diff of epoch 0 and epoch 1
 * and the fold of epoch 1 each run in their own process (ttj-step.js), median of 3
 * in-step times.
 *
 * Standalone: `node dist/journal-tools/bench/diff-fold.js [--size MiB]` prints the figures.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ttjStep } from './ttj.js';
import { writeEpochImages } from './workload.js';

export interface DiffFoldFigures {
  sizeMiB: number;
  /** Pages that differ between the two epochs. */
  changedPages: number;
  /** In-step times (ms), median of 3. */
  diffMs: number;
  foldMs: number;
  /** diffMs / foldMs: ≤ 0.1 is the target. */
  ratio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Appends the first two of `images` as epochs 0 and 1 of a new journal, then times diff epoch:0 epoch:1 against fold epoch:1. */
export function diffFoldFigures(images: string[], scratch: string, sizeMiB: number): DiffFoldFigures {
  const J = join(scratch, 'diff-bench.j');
  try {
    for (const img of images.slice(0, 2)) ttjStep('append', J, img);
    let changedPages = 0;
    const diffs = [0, 1, 2].map(() => {
      const s = ttjStep('diff', J, 'epoch:0', 'epoch:1');
      changedPages = s.changedPages as number;
      return s.ms;
    });
    const out = join(scratch, 'diff-bench-fold');
    const folds = [0, 1, 2].map(() => {
      const s = ttjStep('fold', J, 'epoch:1', out);
      rmSync(out, { recursive: true, force: true });
      return s.ms;
    });
    const diffMs = median(diffs);
    const foldMs = median(folds);
    return { sizeMiB, changedPages, diffMs, foldMs, ratio: diffMs / foldMs };
  } finally {
    rmSync(J, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--size');
  const size = i > 0 ? Number(process.argv[i + 1]) : 256;
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-diff-bench-'));
  try {
    const imgDir = join(scratch, 'img');
    mkdirSync(imgDir);
    const images = writeEpochImages(imgDir, size, 2, 0.05);
    console.log(JSON.stringify(diffFoldFigures(images, scratch, size), null, 2));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
