/**
 * `ttj grep` against the way without it: fold every epoch and run `grep -c` on each
 * fold's memory. Both on a journal of the benchmark workload (every image one epoch),
 * each ttj step in its own process (ttj-step.js); the grep step is the median of 3.
 * The pattern is a three-word phrase of the text-like pages (some hundreds of places,
 * a few across page boundaries), so the mapping of matches to places and spans is
 * measured too, not only the scan.
 *
 * Standalone: `node dist/journal-tools/bench/grep-history.js [--size MiB] [--epochs N]` prints the figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { ttjStep, type Step } from './ttj.js';
import { writeEpochImages } from './workload.js';

/** The phrase searched for. */
export const GREP_PHRASE = 'socket buffer inode';

export interface GrepFigures {
  epochs: number;
  phrase: string;
  /** ttj grep over the whole history: in-step and process times (ms), what it found, what it searched. */
  ttj: { ms: number; processMs: number; places: number; spans: number; searchedBlobs: number; searchedBytes: number };
  /** Folding every epoch (in-step and process ms, summed) and `grep -c` on each memory image (ms, summed); lines counted in the last. */
  foldAndGrep: { foldMs: number; foldProcessMs: number; grepMs: number; lastEpochLines: number };
  /** (fold + grep -c of every epoch) / ttj grep, in-step times: ≥ 5 is the target. */
  ratio: number;
  /** The same, as processes (each fold and the grep a process of its own). */
  ratioProcess: number;
  /** Distinct content searched per second of the grep step, GB/s (10^9 bytes). */
  gbps: number;
}

const median = (xs: Step[]) => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;

/** Appends `images` (one epoch each) to a new journal in `scratch`, then measures both ways of finding {@link GREP_PHRASE} in every epoch. */
export function grepFigures(images: string[], scratch: string): GrepFigures {
  const J = join(scratch, 'grep-bench.j');
  try {
    for (const img of images) ttjStep('append', J, img);
    const g = median([0, 1, 2].map(() => ttjStep('grep', J, GREP_PHRASE)));
    let foldMs = 0;
    let foldProcessMs = 0;
    let grepMs = 0;
    let lines = 0;
    const out = join(scratch, 'grep-bench-fold');
    for (let e = 0; e < images.length; e++) {
      rmSync(out, { recursive: true, force: true });
      const f = ttjStep('fold', J, `epoch:${e}`, out);
      foldMs += f.ms;
      foldProcessMs += f.processMs;
      const t0 = performance.now();
      const r = spawnSync('grep', ['-c', '-a', '-F', GREP_PHRASE, join(out, 'memory.raw')], { encoding: 'utf8' });
      grepMs += performance.now() - t0;
      if (r.status !== 0 && r.status !== 1) throw new Error(`grep -c failed: ${r.stderr}`);
      lines = Number(r.stdout.trim());
    }
    rmSync(out, { recursive: true, force: true });
    const searchedBytes = g.searchedBytes as number;
    return {
      epochs: images.length,
      phrase: GREP_PHRASE,
      ttj: { ms: g.ms, processMs: g.processMs, places: g.places as number, spans: g.spans as number, searchedBlobs: g.searchedBlobs as number, searchedBytes },
      foldAndGrep: { foldMs, foldProcessMs, grepMs, lastEpochLines: lines },
      ratio: (foldMs + grepMs) / g.ms,
      ratioProcess: (foldProcessMs + grepMs) / g.processMs,
      gbps: searchedBytes / (g.ms / 1000) / 1e9,
    };
  } finally {
    rmSync(J, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-grep-bench-'));
  try {
    const imgDir = join(scratch, 'img');
    mkdirSync(imgDir);
    const images = writeEpochImages(imgDir, arg('size', 256), arg('epochs', 8), 0.05);
    console.log(JSON.stringify(grepFigures(images, scratch), null, 2));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
