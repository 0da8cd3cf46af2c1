/**
 * The PostgreSQL store against the embedded store, on the same images in one run:
 * the append of a whole first epoch (every non-zero page new) and the fold of a later
 * epoch, each step in its own process (ttj-step.js), the fold the median of 3. The
 * server is a throwaway PostgreSQL 15 cluster on this machine (fsync on, a unix
 * socket), so the figures compare the stores, not a network.
 *
 * Standalone: `node dist/journal-tools/bench/pg-store.js [--size MiB]` prints the figures.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgCluster, havePostgres } from '../postgres/cluster.js';
import { ttjStep, type Step } from './ttj.js';
import { writeEpochImages } from './workload.js';

export interface PgStoreFigures {
  sizeMiB: number;
  /** In-step times (ms) of the first epoch's append, and of the fold of the second epoch (median of 3). */
  embedded: { appendMs: number; foldMs: number };
  pg: { appendMs: number; foldMs: number };
  /** Throughput of the PostgreSQL store / the embedded store (embedded time / PostgreSQL time): ≥ 0.5 is the target. */
  ratio: { append: number; fold: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Appends `images` (a whole first epoch, then a later one) to a directory journal and a PostgreSQL journal, and folds the later epoch from both. */
export async function pgStoreFigures(images: string[], scratch: string, sizeMiB: number): Promise<PgStoreFigures> {
  if (!havePostgres()) throw new Error('postgresql-15 is not installed');
  const cluster = await PgCluster.start();
  try {
    const run = (journal: string, tag: string) => {
      const appends: Step[] = images.slice(0, 2).map((img) => ttjStep('append', journal, img));
      const folds = [0, 1, 2].map((i) => {
        const out = join(scratch, `pg-bench-fold-${tag}-${i}`);
        const s = ttjStep('fold', journal, 'epoch:1', out);
        rmSync(out, { recursive: true, force: true });
        return s.ms;
      });
      return { appendMs: appends[0]!.ms, foldMs: median(folds) };
    };
    const dir = join(scratch, 'pg-bench-embedded');
    const embedded = run(dir, 'embedded');
    rmSync(dir, { recursive: true, force: true });
    const pg = run(cluster.url('bench'), 'pg');
    return { sizeMiB, embedded, pg, ratio: { append: embedded.appendMs / pg.appendMs, fold: embedded.foldMs / pg.foldMs } };
  } finally {
    await cluster.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--size');
  const size = i > 0 ? Number(process.argv[i + 1]) : 256;
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-pg-bench-'));
  try {
    const imgDir = join(scratch, 'img');
    mkdirSync(imgDir);
    const images = writeEpochImages(imgDir, size, 2, 0.05);
    console.log(JSON.stringify(await pgStoreFigures(images, scratch, size), null, 2));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
