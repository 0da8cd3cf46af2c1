/**
 * ttj's side of the benchmark: every append, fold and verify runs in a child process
 * (ttj-step.js) so that its time, peak RSS and disk I/O are its own; the long history
 * is appended in this process (not timed against peers) and folded in children.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { longHistory } from './workload.js';
import { journalBytes } from './du.js';
import { settle } from './peers.js';

const stepScript = join(dirname(fileURLToPath(import.meta.url)), 'ttj-step.js');

/** What one child step reports, plus its process wall time measured here (spawn to exit). */
export interface Step {
  /** The step itself, inside the child. */
  ms: number;
  /** CPU time of the step, all threads of the child (user + system). */
  cpuMs: number;
  /** Node bootstrap + module loading in the child, before the step. */
  startupMs: number;
  /** The whole child process, spawn to exit: what a user of a CLI waits for. */
  processMs: number;
  maxRssKb: number;
  ruMaxRssKb: number;
  writeBytes: number;
  readBytes: number;
  [k: string]: unknown;
}

export function ttjStep(...args: string[]): Step {
  settle();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [stepScript, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const processMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ttj step ${args.join(' ')} failed: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Step), processMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The run whose in-child time is the median of `n` runs. */
function medianRun(n: number, run: () => Step): Step {
  const runs = Array.from({ length: n }, run).sort((a, b) => a.ms - b.ms);
  return runs[Math.floor(n / 2)]!;
}

export interface TtjRun {
  appends: Step[];
  bytes: { total: number; packs: number; index: number };
  /** Journal bytes on disk after each epoch's append. */
  bytesAfter: number[];
  folds: Record<number, Step>;
  verify: Step;
  /** A Node process with ttj loaded, doing nothing. */
  noop: Step;
}

/** Appends every image as one epoch, then folds `foldEpochs` (median of 5) and verifies --deep. */
export function runTtj(images: string[], scratch: string, foldEpochs: number[]): TtjRun {
  const J = join(scratch, 'ttj.j');
  const appends: Step[] = [];
  const bytesAfter: number[] = [];
  for (const img of images) {
    appends.push(ttjStep('append', J, img));
    bytesAfter.push(journalBytes(J).total);
  }
  const out = join(scratch, 'fold');
  const folds: Record<number, Step> = {};
  for (const e of foldEpochs) {
    folds[e] = medianRun(5, () => {
      rmSync(out, { recursive: true, force: true });
      return ttjStep('fold', J, `epoch:${e}`, out);
    });
  }
  rmSync(out, { recursive: true, force: true });
  const verify = ttjStep('verify', J);
  return { appends, bytes: journalBytes(J), bytesAfter, folds, verify, noop: medianRun(3, () => ttjStep('noop')) };
}

export interface LongRun {
  sizeMiB: number;
  epochs: number;
  dirtyPages: number;
  /** In-process appendImages of a buffer, per epoch (ms): the first 10 later epochs and the last 10. */
  appendEarlyMs: number;
  appendLateMs: number;
  foldEarly: Step;
  foldLate: Step;
  earlyEpoch: number;
  lateEpoch: number;
  bytes: number;
}

/** A long history of small epochs; fold of an early epoch against the last (median of 5 each). */
export async function runLongHistory(scratch: string, sizeMiB: number, epochs: number, dirtyPages: number): Promise<LongRun> {
  const LJ = join(scratch, 'long.j');
  const w = await JournalWriter.openWriter(LJ, { create: true, command: 'bench' });
  const ms: number[] = [];
  try {
    await longHistory(sizeMiB, epochs, dirtyPages, async (_e, image) => {
      const t0 = performance.now();
      await appendImages(w, { memory: image });
      ms.push(performance.now() - t0);
    });
  } finally {
    await w.close();
  }
  const out = join(scratch, 'long-fold');
  const foldAt = (e: number) =>
    medianRun(5, () => {
      rmSync(out, { recursive: true, force: true });
      return ttjStep('fold', LJ, `epoch:${e}`, out);
    });
  const earlyEpoch = Math.min(3, epochs - 1);
  const lateEpoch = epochs - 1;
  const foldEarly = foldAt(earlyEpoch);
  const foldLate = foldAt(lateEpoch);
  rmSync(out, { recursive: true, force: true });
  return {
    sizeMiB,
    epochs,
    dirtyPages,
    appendEarlyMs: median(ms.slice(1, 11)),
    appendLateMs: median(ms.slice(-10)),
    foldEarly,
    foldLate,
    earlyEpoch,
    lateEpoch,
    bytes: journalBytes(LJ).total,
  };
}
