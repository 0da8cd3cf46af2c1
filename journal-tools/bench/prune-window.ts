/**
 * Prune: a journal of 300 epochs (a 16 MiB guest, 64 random pages rewritten per epoch,
 * appended by one writer) pruned to its last 50 epochs by `ttj prune` (a process) while
 * a writer in this process keeps appending epochs: the prune's time, the bytes of the
 * journal directory before and after (file sizes, as `du --apparent-size` counts them),
 * and the writer's p99 commit latency during the prune against the same writer's p99
 * without a prune running (the same number of commits, just before).
 *
 * Standalone: `node dist/journal-tools/bench/prune-window.js` prints the figures.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';

export interface PruneFigures {
  epochs: number;
  kept: number;
  guestMiB: number;
  dirtyPagesPerEpoch: number;
  /** Wall time of `ttj prune` (the process, start-up included), ms. */
  pruneMs: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Bytes the concurrent writer's commits stored while the prune ran. */
  bytesAppendedMeanwhile: number;
  /** bytesBefore + bytesAppendedMeanwhile - bytesAfter. */
  bytesReclaimed: number;
  /** Commit latency of the concurrent writer (ms): p50 and p99 without and with a prune running, and how many commits each. */
  writer: { without: { p50: number; p99: number; commits: number }; with: { p50: number; p99: number; commits: number } };
  /** p99 with a prune running / p99 without. */
  ratio: number;
}

const PAGE = 4096;
const GUEST_PAGES = 4096;
const DIRTY = 64;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

function dirBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const s = statSync(join(dir, name));
    n += s.isDirectory() ? dirBytes(join(dir, name)) : s.size;
  }
  return n;
}

/** One epoch: `DIRTY` random pages (the first epoch declares the memory). */
function epoch(w: JournalWriter) {
  const e = w.nextEpochNumber;
  const blobs = Array.from({ length: DIRTY }, () => {
    const data = randomBytes(PAGE);
    return { addr: sha256(data), data };
  });
  const pfns = Array.from({ length: DIRTY }, (_, i) => (e * 37 + i * 61) % GUEST_PAGES);
  return w.commit(
    [{ epochBegin: { epoch: e } }, ...(e === 0 ? [{ memoryLayout: { size: GUEST_PAGES * PAGE } }] : []), { pages: { pfns, addrs: Buffer.concat(blobs.map((b) => b.addr)) } }, { epochCommit: { epoch: e } }],
    blobs,
  );
}

/** Runs the measurement in `scratch` with the ttj CLI at `bin`. */
export async function pruneFigures(bin: string, scratch: string, epochs = 300, kept = 50): Promise<PruneFigures> {
  const J = join(scratch, 'prune-bench.ttj');
  const stat = (xs: number[]) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), commits: xs.length });
  try {
    // The journal, and 50 commits timed without a prune; the writer closed, so that the
    // pack file it allocated ahead is cut to its last block before the bytes are counted.
    let w = await JournalWriter.openWriter(J, { create: true, command: 'prune bench' });
    const without: number[] = [];
    try {
      for (let e = 0; e < epochs; e++) await epoch(w);
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        await epoch(w);
        without.push(performance.now() - t);
      }
    } finally {
      await w.close();
    }
    const bytesBefore = dirBytes(J);
    w = await JournalWriter.openWriter(J, { create: false, command: 'prune bench' });
    const withPrune: number[] = [];
    let appended = 0;
    let pruneMs: number;
    try {
      let done = false;
      const t0 = performance.now();
      const prune = new Promise<number>((resolve, reject) => {
        // The writer holds the journal: ttj prune asks it to run the prune between its appends.
        const p = spawn(process.execPath, [bin, 'prune', J, '--keep-last', String(kept), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`ttj prune exited ${code}: ${err}`))));
      }).finally(() => (done = true));
      while (!done || withPrune.length < 1) {
        const t = performance.now();
        appended += (await epoch(w)).storedBytes;
        withPrune.push(performance.now() - t);
      }
      pruneMs = await prune;
    } finally {
      await w.close();
    }
    const bytesAfter = dirBytes(J);
    const writer = { without: stat(without), with: stat(withPrune) };
    return {
      epochs,
      kept,
      guestMiB: (GUEST_PAGES * PAGE) / 1048576,
      dirtyPagesPerEpoch: DIRTY,
      pruneMs,
      bytesBefore,
      bytesAfter,
      bytesAppendedMeanwhile: appended,
      bytesReclaimed: bytesBefore + appended - bytesAfter,
      writer,
      ratio: writer.with.p99 / writer.without.p99,
    };
  } finally {
    rmSync(J, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-prune-bench-'));
  try {
    const bin = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'bin', 'run.js');
    console.log(JSON.stringify(await pruneFigures(bin, scratch), null, 2));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
