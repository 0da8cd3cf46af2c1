/**
 * How the cost grows with the work: `ttj record` of the boot-sector guest (TCG, a
 * sparse guest: it touches few pages) at several RAM sizes — VM pause p50/p99, bytes
 * stored per epoch, peak RSS of the recording process, the fold of its last epoch —
 * and histories of several lengths (a 32 MiB guest, 8 pages rewritten an epoch) —
 * the fold of the last epoch and the size of the index. For each row, where it grows
 * faster than linearly (a growth exponent above 1.15 between neighbouring sizes).
 *
 * Part of `npm run bench -- --scaling` (or TTJ_BENCH_SCALING=1); standalone:
 *   node dist/journal-tools/bench/scaling.js [--sizes 64,256,1024,4096] [--histories 10,100,1000] [--seconds 6]
 * prints the JSON figures and the markdown table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { ensureBootSectorGuest } from '../guests/index.js';
import { journalBytes } from './du.js';
import { recordStep } from './record-pause.js';
import { ttjStep, type Step } from './ttj.js';
import { longHistory } from './workload.js';

/** One guest size. */
export interface GuestScale {
  sizeMiB: number;
  accel: string;
  epochs: number;
  pauseP50Ms: number;
  pauseP99Ms: number;
  /** All bytes stored / epochs (the first epoch stores the whole first state). */
  bytesPerEpoch: number;
  /** Peak RSS of the `ttj record` process (VmHWM), KiB. */
  peakRssKb: number;
  /** The fold of the last epoch, in-step and as a process (ms). */
  foldMs: number;
  foldProcessMs: number;
}

/** One history length. */
export interface HistoryScale {
  epochs: number;
  /** The fold of the last epoch, in-step (median of 3) and as a process (ms). */
  foldLastMs: number;
  foldLastProcessMs: number;
  /** Events replayed after the keyframe by that fold. */
  replayedEvents: number;
  /** The LevelDB index on disk, and the whole journal (bytes). */
  indexBytes: number;
  journalBytes: number;
}

export interface ScalingFigures {
  guests: GuestScale[];
  /** Guest sizes `ttj record` failed at, and why. */
  failedGuests?: { sizeMiB: number; error: string }[];
  histories: HistoryScale[];
  /** Seconds each guest was recorded. */
  seconds: number;
  /** How these figures were taken, when not by the run they are reported with. */
  note?: string;
  history: { sizeMiB: number; dirtyPages: number };
}

/** Options of {@link scalingFigures}. */
export interface ScalingOptions {
  sizes?: number[];
  histories?: number[];
  seconds?: number;
  log?: (s: string) => void;
}

const HISTORY = { sizeMiB: 32, dirtyPages: 8 };

/** Measures the scaling table in `dir` (journals and folds are removed as it goes). */
export async function scalingFigures(dir: string, opts: ScalingOptions = {}): Promise<ScalingFigures> {
  const sizes = opts.sizes ?? [64, 256, 1024, 4096];
  const lengths = opts.histories ?? [10, 100, 1000];
  const seconds = opts.seconds ?? 6;
  const log = opts.log ?? (() => undefined);
  const image = ensureBootSectorGuest();
  const out = join(dir, 'scale-fold');
  const guests: GuestScale[] = [];
  const failed: { sizeMiB: number; error: string }[] = [];
  for (const sizeMiB of sizes) {
    log(`scaling: ttj record of a ${sizeMiB} MiB guest for ${seconds} s, then a fold of its last epoch...`);
    const J = join(dir, `scale-rec-${sizeMiB}.ttj`);
    let r: ReturnType<typeof recordStep>;
    try {
      r = recordStep(J, sizeMiB, seconds, image);
    } catch (e) {
      // One size that cannot be recorded (memory, limits) is reported, not the end of the table.
      failed.push({ sizeMiB, error: (e as Error).message.split('\n').find((l) => /Error|error/.test(l)) ?? 'failed' });
      rmSync(J, { recursive: true, force: true });
      continue;
    }
    rmSync(out, { recursive: true, force: true });
    const f = ttjStep('fold', J, `epoch:${r.epochs - 1}`, out);
    rmSync(out, { recursive: true, force: true });
    rmSync(J, { recursive: true, force: true });
    guests.push({
      sizeMiB,
      accel: r.accel,
      epochs: r.epochs,
      pauseP50Ms: r.pauseP50Ms,
      pauseP99Ms: r.pauseP99Ms,
      bytesPerEpoch: r.bytesStored / Math.max(1, r.epochs),
      peakRssKb: r.maxRssKb,
      foldMs: f.ms,
      foldProcessMs: f.processMs,
    });
  }
  const histories: HistoryScale[] = [];
  for (const epochs of lengths) {
    log(`scaling: a history of ${epochs} epochs (${HISTORY.sizeMiB} MiB guest, ${HISTORY.dirtyPages} pages an epoch), the fold of its last epoch...`);
    const J = join(dir, `scale-hist-${epochs}.ttj`);
    const w = await JournalWriter.openWriter(J, { create: true, command: 'bench' });
    try {
      await longHistory(HISTORY.sizeMiB, epochs, HISTORY.dirtyPages, async (_e, img) => void (await appendImages(w, { memory: img })));
    } finally {
      await w.close();
    }
    const folds: Step[] = [];
    for (let i = 0; i < 3; i++) {
      rmSync(out, { recursive: true, force: true });
      folds.push(ttjStep('fold', J, `epoch:${epochs - 1}`, out));
    }
    rmSync(out, { recursive: true, force: true });
    const f = folds.sort((a, b) => a.ms - b.ms)[1]!;
    const bytes = journalBytes(J);
    rmSync(J, { recursive: true, force: true });
    histories.push({ epochs, foldLastMs: f.ms, foldLastProcessMs: f.processMs, replayedEvents: f.replayedEvents as number, indexBytes: bytes.index, journalBytes: bytes.total });
  }
  return { guests, failedGuests: failed, histories, seconds, history: HISTORY };
}

/** Growth exponent of `y` against `x` between two points: 1 is linear, 0 flat, above 1 faster than linear. */
export function growth(x0: number, y0: number, x1: number, y1: number): number {
  return Math.log(y1 / y0) / Math.log(x1 / x0);
}

/** Growth above this is "faster than linear" (measurement noise allowed for). */
const SUPERLINEAR = 1.15;

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => (n < 10 ? n.toFixed(1) : n.toFixed(0));
const kib = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);

/** One row of a scaling table: its name, the cells, and the values the growth is judged on. */
interface Row {
  what: string;
  cells: string[];
  values: number[];
  /** Why it grows as it does (quoted when it grows faster than linearly, or said for every row). */
  cause: string;
}

/** The markdown of the scaling section (tables, growth, and why). */
export function scalingMarkdown(s: ScalingFigures): string[] {
  const md: string[] = s.note ? [s.note, ''] : [];
  const g = s.guests;
  if (g.length) {
    const guestRows: Row[] = [
      {
        what: 'pause p50 (ms)',
        cells: g.map((x) => f1(x.pauseP50Ms)),
        values: g.map((x) => x.pauseP50Ms),
        cause:
          'the VM is stopped while the pages of its RAM file the guest has touched are fingerprinted in place (the untouched ones are holes, not read) and the changed ones read, and while QEMU saves its device state and the screen is grabbed as a raw PPM (a fixed cost of ~15–20 ms, which dominates on small guests; the PNG is encoded after the resume). On a loaded 2-core machine the recorder also waits for the CPU (TCG runs the guest on a vCPU thread of its own)',
      },
      {
        what: 'pause p99 (ms)',
        cells: g.map((x) => f1(x.pauseP99Ms)),
        values: g.map((x) => x.pauseP99Ms),
        cause: 'the scan above, plus whatever else holds the CPU at that moment (an append of the previous epoch, other processes on the 2 cores)',
      },
      {
        what: 'bytes stored per epoch',
        cells: g.map((x) => kib(x.bytesPerEpoch)),
        values: g.map((x) => x.bytesPerEpoch),
        cause: 'only the pages the guest changed are stored (and its zero pages never): it follows what the guest writes, not its size',
      },
      {
        what: 'peak RSS of ttj record',
        cells: g.map((x) => `${kib(x.peakRssKb * 1024)} (${((x.peakRssKb * 1024) / (x.sizeMiB * 1048576)).toFixed(2)}×)`),
        values: g.map((x) => x.peakRssKb),
        cause: 'no copy of the guest RAM: the pages changed in the (at most two) epochs in flight, plus the page table (32 bytes a page) and fingerprints (16 bytes a page)',
      },
      {
        what: 'fold of the last epoch (ms, in-step)',
        cells: g.map((x) => f0(x.foldMs)),
        values: g.map((x) => x.foldMs),
        cause:
          "a fold writes the whole memory (zero pages included: proportional to the guest size), reads every non-zero page, and pays a fixed cost (loading the state, starting the decode workers). Where it grows faster than linearly the output no longer fits the kernel's dirty-page allowance: from 1 GiB on, writes wait for writeback to the disk instead of landing in the page cache",
      },
    ];
    md.push(
      `### Guest size (\`ttj record\` of the boot-sector guest, ${g[0]!.accel}, ${s.seconds} s each, an epoch every 500 ms)`,
      '',
      ...table(
        'guest RAM',
        g.map((x) => `${x.sizeMiB} MiB`),
        g.map((x) => x.sizeMiB),
        guestRows,
      ),
      '',
      ...(s.failedGuests ?? []).map((f) => `- **${f.sizeMiB} MiB**: \`ttj record\` failed: ${f.error}`),
      '',
    );
  }
  const h = s.histories;
  if (h.length) {
    const rows: Row[] = [
      {
        what: 'fold of the last epoch (ms, in-step, median of 3)',
        cells: h.map((x) => `${f0(x.foldLastMs)} (${x.replayedEvents} events replayed)`),
        values: h.map((x) => x.foldLastMs),
        cause: 'a keyframe every 64 epochs bounds the events a fold replays, so a fold costs reading the state, whatever the length of the history',
      },
      {
        what: 'index on disk',
        cells: h.map((x) => kib(x.indexBytes)),
        values: h.map((x) => x.indexBytes),
        cause: "one location entry per stored page, the events and an entry per epoch, plus LevelDB's log and table files: it grows with the pages stored, the first state's being most of it in a short history",
      },
      { what: 'journal on disk', cells: h.map((x) => kib(x.journalBytes)), values: h.map((x) => x.journalBytes), cause: 'the first state plus the pages each epoch changes' },
    ];
    md.push(
      `### History length (a ${s.history.sizeMiB} MiB guest, ${s.history.dirtyPages} pages rewritten an epoch)`,
      '',
      ...table(
        'epochs',
        h.map((x) => String(x.epochs)),
        h.map((x) => x.epochs),
        rows,
      ),
      '',
    );
  }
  return md;
}

/** A table with one column per size and a growth column, then a line per row saying how it grows and why. */
function table(head: string, cols: string[], xs: number[], rows: Row[]): string[] {
  const out = [`| ${head} | ${cols.join(' | ')} | growth |`, `|---|${cols.map(() => '---|').join('')}---|`];
  const notes: string[] = [];
  for (const r of rows) {
    const exps = xs.slice(1).map((x, i) => growth(xs[i]!, r.values[i]!, x, r.values[i + 1]!));
    const finite = exps.filter(Number.isFinite);
    const worst = finite.length ? Math.max(...finite) : NaN;
    out.push(`| ${r.what} | ${r.cells.join(' | ')} | ${finite.map((e) => e.toFixed(2)).join(', ')} |`);
    const shape = !Number.isFinite(worst)
      ? 'not measurable'
      : worst > SUPERLINEAR
        ? `**faster than linear** (exponent up to ${worst.toFixed(2)})`
        : worst > 0.6
          ? 'about linear or slower'
          : 'much slower than linear (nearly flat)';
    notes.push(`- **${r.what}**: ${shape}: ${r.cause}.`);
  }
  return [...out, '', 'Growth: the exponent between neighbouring columns (log of the ratio of the values / log of the ratio of the sizes; 1 is linear, 0 flat).', '', ...notes];
}

/** Standalone: measure and print. */
async function main(argv: string[]): Promise<void> {
  const list = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1]!.split(',').map(Number);
  };
  const dir = mkdtempSync(join(tmpdir(), 'ttj-scaling-'));
  const t0 = performance.now();
  try {
    const s = await scalingFigures(dir, {
      sizes: list('sizes'),
      histories: list('histories'),
      seconds: list('seconds')?.[0],
      log: (m) => process.stderr.write(`[scaling ${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`),
    });
    process.stdout.write(JSON.stringify(s, null, 2) + '\n\n' + scalingMarkdown(s).join('\n') + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
