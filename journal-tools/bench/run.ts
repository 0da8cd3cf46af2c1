/**
 * `npm run bench`: ttj against borg, restic and zstd -1 full checkpoints on the same
 * memory-like images, measured in one run; plus fold cost over a long history, NBD
 * throughput against qemu-nbd, and the native page scanner when built. Writes a
 * table to the terminal, bench-results/bench.json and docs/benchmarks.md.
 * Flags: --size MiB (256), --epochs N (8), --long-epochs N (300), --quick, --out DIR, --no-docs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { writeEpochImages, longHistory } from './workload.js';
import { installed, runBorg, runRestic, runZstd, version, type PeerRun } from './peers.js';
import { duBytes } from './du.js';
import { nbdThroughput, type NbdFigures } from './nbd-throughput.js';
import { writeReport } from './report.js';
import { benchScan } from '../../src/native/bench-scan.js';
import { recordPause, type PauseFigures } from './record-pause.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'run.js');
const step = join(dirname(fileURLToPath(import.meta.url)), 'ttj-step.js');
const argv = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const quick = argv.includes('--quick');
const size = flag('size', quick ? 64 : 256);
const epochs = flag('epochs', 8);
const longEpochs = flag('long-epochs', quick ? 120 : 300);
const outDir = argv.includes('--out') ? argv[argv.indexOf('--out') + 1]! : join(root, 'bench-results');

interface Step {
  ms: number;
  maxRssKb: number;
  writeBytes: number;
  readBytes: number;
  [k: string]: unknown;
}

function ttjStep(...args: string[]): Step {
  const r = spawnSync(process.execPath, [step, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`ttj step ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Step;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (s: string) => process.stderr.write(s + '\n');

const scratch = mkdtempSync(join(tmpdir(), 'ttj-bench-'));
try {
  const free = statfsSync(scratch);
  const need = size * 1048576 * (epochs * 3 + 4);
  if (free.bavail * free.bsize < need) throw new Error(`need ${(need / 2 ** 30).toFixed(1)} GiB free in ${tmpdir()}`);
  if (['borg', 'restic', 'zstd'].some((c) => !installed(c)) && process.getuid?.() === 0) spawnSync('bash', [join(root, 'journal-tools', 'bootstrap.sh'), '--bench'], { stdio: 'inherit' });

  log(`generating ${epochs} epochs of a ${size} MiB memory-like guest (40% zero, 35% text, 25% random; 5% of pages dirtied an epoch)...`);
  const imgDir = join(scratch, 'img');
  mkdirSync(imgDir);
  const images = writeEpochImages(imgDir, size, epochs, 0.05);
  const last = epochs - 1;
  const restoreEpochs = [1, last];

  log('ttj: append each epoch, fold early and late, verify --deep...');
  const J = join(scratch, 'ttj.j');
  const appends = images.map((img) => ttjStep('append', J, img));
  const ttjBytes = duBytes(J);
  const folds: Record<number, Step> = {};
  for (const e of restoreEpochs) {
    const runs = [0, 1, 2].map(() => {
      rmSync(join(scratch, 'fold'), { recursive: true, force: true });
      return ttjStep('fold', J, `epoch:${e}`, join(scratch, 'fold'));
    });
    folds[e] = runs.sort((a, b) => a.ms - b.ms)[1]!;
  }
  rmSync(join(scratch, 'fold'), { recursive: true, force: true });
  const ver = ttjStep('verify', J);
  const baseRssKb = ttjStep('noop').maxRssKb;

  const peers: PeerRun[] = [];
  for (const [name, fn] of [
    ['borg', () => runBorg(images, scratch, restoreEpochs)],
    ['restic', () => runRestic(images, scratch, restoreEpochs)],
    ['zstd', () => runZstd(images, scratch)],
  ] as const) {
    if (!installed(name)) {
      log(`${name}: not installed (skipped)`);
      continue;
    }
    log(`${name}...`);
    peers.push(fn());
  }
  for (const f of images.slice(1)) rmSync(f);

  log(`long history: ${longEpochs} small epochs of a 32 MiB guest...`);
  const LJ = join(scratch, 'long.j');
  const w = await JournalWriter.openWriter(LJ);
  await longHistory(32, longEpochs, 8, async (_e, image) => {
    await appendImages(w, { memory: image });
  });
  await w.close();
  const longFold = (e: number) => {
    const runs = [0, 1, 2, 3, 4].map(() => {
      rmSync(join(scratch, 'lf'), { recursive: true, force: true });
      return ttjStep('fold', LJ, `epoch:${e}`, join(scratch, 'lf'));
    });
    return runs.sort((a, b) => a.ms - b.ms)[2]!;
  };
  const longEarly = longFold(3);
  const longLate = longFold(longEpochs - 1);

  let nbd: NbdFigures | undefined;
  if (installed('nbdcopy') && installed('qemu-nbd')) {
    log('NBD: ttj nbd (journal-backed) vs qemu-nbd, nbdcopy sequential write and read...');
    nbd = await nbdThroughput(bin, scratch, Math.min(size, 256));
  }

  let pause: PauseFigures[] | undefined;
  if (installed('qemu-system-x86_64') && !argv.includes('--no-record')) {
    log('record: the boot-sector guest at 64 MiB, 256 MiB and 1 GiB, an epoch every 500 ms, 10 fps...');
    pause = await recordPause(scratch, quick ? [64, 256] : [64, 256, 1024], quick ? 4 : 6);
  }

  let scan: Record<string, unknown> | undefined;
  try {
    scan = (await benchScan(size)) as unknown as Record<string, unknown>;
  } catch {
    scan = undefined;
  }

  const borg = peers.find((p) => p.name === 'borg');
  const restic = peers.find((p) => p.name === 'restic');
  const zstd = peers.find((p) => p.name === 'zstd -1 full');
  const later = (xs: number[]) => median(xs.slice(1));
  const sumWrite = appends.reduce((a, s) => a + s.writeBytes, 0);
  const guestKb = size * 1024;
  const result = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
      kernel: release(),
      node: process.version,
      borg: installed('borg') ? version('borg') : undefined,
      restic: installed('restic') ? version('restic', 'version') : undefined,
      zstd: installed('zstd') ? version('zstd', '-V') : undefined,
    },
    workload: { sizeMiB: size, epochs, dirtyFraction: 0.05, longEpochs },
    ttj: {
      appendFirstMs: appends[0]!.ms,
      appendLaterMs: later(appends.map((a) => a.ms)),
      bytes: ttjBytes,
      writeBytesPerStoredByte: sumWrite / ttjBytes,
      foldMs: Object.fromEntries(restoreEpochs.map((e) => [e, folds[e]!.ms])),
      verifyDeepMBps: (ver.bytesChecked as number) / 1e6 / (ver.ms / 1000),
      baseRssMiB: baseRssKb / 1024,
      peakRssMiB: { append: Math.max(...appends.map((a) => a.maxRssKb)) / 1024, fold: Math.max(...Object.values(folds).map((f) => f.maxRssKb)) / 1024 },
      longHistory: { foldEarlyMs: longEarly.ms, foldLateMs: longLate.ms, replayedEarly: longEarly.replayedEvents, replayedLate: longLate.replayedEvents },
    },
    peers: peers.map((p) => ({ name: p.name, ingestFirstMs: p.ingestMs[0], ingestLaterMs: later(p.ingestMs), bytes: p.bytes, restoreMs: p.restoreMs })),
    nbd,
    pause,
    scan,
    ratios: {
      ingestVsBorg: borg ? later(appends.map((a) => a.ms)) / later(borg.ingestMs) : undefined,
      ingestFirstVsBorg: borg ? appends[0]!.ms / borg.ingestMs[0]! : undefined,
      bytesVsBorg: borg ? ttjBytes / borg.bytes : undefined,
      bytesVsZstdFull: zstd ? ttjBytes / zstd.bytes : undefined,
      foldVsBorgExtract: borg ? folds[last]!.ms / borg.restoreMs[last]! : undefined,
      foldVsResticRestore: restic ? folds[last]!.ms / restic.restoreMs[last]! : undefined,
      // Peak RSS above the constant of a Node process with ttj loaded, per byte of guest.
      peakRssVsGuest: {
        append: (Math.max(...appends.map((a) => a.maxRssKb)) - baseRssKb) / guestKb,
        fold: (Math.max(...Object.values(folds).map((f) => f.maxRssKb)) - baseRssKb) / guestKb,
      },
      longFoldLateVsEarly: longLate.ms / longEarly.ms,
    },
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'bench.json'), JSON.stringify(result, null, 2) + '\n');
  writeReport(result, argv.includes('--no-docs') ? undefined : join(root, 'docs', 'benchmarks.md'));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
void readFileSync;
