/**
 * `npm run bench`: ttj against borg, restic and zstd -1 full checkpoints on the same
 * memory-like images, measured in one run; fold cost over a long history; and, when
 * available, NBD throughput against qemu-nbd, VM pauses of `ttj record`, moving a
 * recorded VM with `ttj push` against QEMU's migration stream, and the native page
 * scanner; an encrypted journal against a plain one. Prints a table, writes OUT/bench.json and rewrites docs/benchmarks.md.
 *
 * Flags: --size MiB (256), --epochs N (8), --long-epochs N (300), --quick (64 MiB, 120
 * long epochs, shorter optional sections), --out DIR (bench-results/), --no-docs (leave
 * docs/benchmarks.md alone), --no-record (no QEMU guest: also no moving a VM), --no-nbd, --no-pg, --no-grep, --no-ui,
 * --scaling (or TTJ_BENCH_SCALING=1: the scaling section, journal-tools/bench/scaling.ts; a few minutes more),
 * --render FILE (no measuring: rewrite docs/benchmarks.md from the figures of an earlier run's bench.json, with
 * this checkout's targets and explanations).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { MIX, PAGE, writeEpochImages } from './workload.js';
import { runLongHistory, runTtj } from './ttj.js';
import { installed, runBorg, runRestic, runZstd, type PeerRun } from './peers.js';
import { machine } from './machine.js';
import { nbdSustainedWrite, nbdThroughput, type NbdFigures, type NbdSustainedFigures } from './nbd-throughput.js';
import { nbdRandomWrite, type NbdRandomWriteFigures } from './nbd-random-write.js';
import { recordPause, type PauseFigures } from './record-pause.js';
import { optionalNbd, optionalScan } from './optional.js';
import { computeRatios, type BenchResult } from './result.js';
import { printReport, writeDocs } from './report.js';
import { pgStoreFigures, type PgStoreFigures } from './pg-store.js';
import { havePostgres } from '../postgres/cluster.js';
import { pushBytes } from './push-bytes.js';
import { pushVm, type PushVmFigures } from './push-vm.js';
import { grepFigures, type GrepFigures } from './grep-history.js';
import { diffFoldFigures, type DiffFoldFigures } from './diff-fold.js';
import { cliStartFigures, type CliStartFigures } from './cli-start.js';
import { haveChromium, uiOpenFigures, type UiOpenFigures } from './ui-open.js';
import { scalingFigures, type ScalingFigures } from './scaling.js';
import { encryptionFigures, type EncryptionFigures } from './encryption.js';
import { pruneFigures, type PruneFigures } from './prune-window.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const argv = process.argv.slice(2);
const num = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
};
const quick = argv.includes('--quick');
const size = num('size', quick ? 64 : 256);
const epochs = Math.max(2, num('epochs', 8));
const longEpochs = Math.max(10, num('long-epochs', quick ? 120 : 300));
const outDir = argv.includes('--out') ? resolve(argv[argv.indexOf('--out') + 1]!) : join(root, 'bench-results');
const DIRTY = 0.05;
const LONG = { sizeMiB: 32, dirtyPages: 8 };
if ((size * 1048576) % PAGE) throw new Error('--size must be a whole number of pages');

if (argv.includes('--render')) {
  const r = JSON.parse(readFileSync(resolve(argv[argv.indexOf('--render') + 1]!), 'utf8')) as BenchResult;
  r.ratios = computeRatios(r);
  writeDocs(r, join(root, 'docs', 'benchmarks.md'));
  process.exit(0);
}

const log = (s: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
const started = performance.now();

const scratch = mkdtempSync(join(tmpdir(), 'ttj-bench-'));
const cleanup = () => rmSync(scratch, { recursive: true, force: true });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });
}

try {
  // Images (epochs × size), borg + restic repos and the journal (~1.3 × the first image
  // each), a fold output and a zstd checkpoint at a time, the long history and the NBD images.
  const { bavail, bsize } = statfsSync(scratch);
  const need = size * 1048576 * (epochs + 8) + 2 * 2 ** 30;
  if (bavail * bsize < need) throw new Error(`need ${(need / 2 ** 30).toFixed(1)} GiB free in ${tmpdir()}, have ${((bavail * bsize) / 2 ** 30).toFixed(1)} GiB`);

  const peerNames = ['borg', 'restic', 'zstd'];
  if (peerNames.some((c) => !installed(c)) && process.getuid?.() === 0) {
    log(`installing missing peers (${peerNames.filter((c) => !installed(c)).join(', ')}) with journal-tools/bootstrap.sh --bench...`);
    spawnSync('bash', [join(root, 'journal-tools', 'bootstrap.sh'), '--bench'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }

  log(`generating ${epochs} epochs of a ${size} MiB memory-like guest (${MIX.zero}% zero, ${MIX.text}% text-like, ${MIX.random}% random pages; ${DIRTY * 100}% of pages dirtied an epoch)...`);
  const imgDir = join(scratch, 'img');
  mkdirSync(imgDir);
  const images = writeEpochImages(imgDir, size, epochs, DIRTY);
  const foldEpochs = [1, epochs - 1];

  log('ttj: append every epoch, fold early and late (median of 5), verify --deep...');
  const ttj = runTtj(images, scratch, foldEpochs);

  const peers: PeerRun[] = [];
  const missing: string[] = [];
  const runners = { borg: runBorg, restic: runRestic, zstd: runZstd };
  for (const name of peerNames as (keyof typeof runners)[]) {
    if (!installed(name)) {
      log(`${name}: not installed (skipped)`);
      missing.push(name);
      continue;
    }
    log(`${name}: the same images...`);
    peers.push(runners[name](images, scratch, foldEpochs));
  }
  let pgStore: PgStoreFigures | undefined;
  let pgStoreSkipped: string | undefined;
  if (argv.includes('--no-pg')) pgStoreSkipped = 'skipped (--no-pg)';
  else if (!havePostgres()) pgStoreSkipped = 'postgresql-15 not installed';
  else {
    log('PostgreSQL store vs the embedded store: append of a whole epoch, fold of a later one (a throwaway cluster)...');
    try {
      pgStore = await pgStoreFigures(images, scratch, size);
    } catch (e) {
      pgStoreSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (pgStoreSkipped) log(`PostgreSQL store: ${pgStoreSkipped}`);
  let grepRun: GrepFigures | undefined;
  let grepSkipped: string | undefined;
  if (argv.includes('--no-grep')) grepSkipped = 'skipped (--no-grep)';
  else if (!installed('grep')) grepSkipped = 'grep not installed';
  else {
    log(`grep: ttj grep of the whole history against folding each of the ${epochs} epochs and grep -c on it...`);
    try {
      grepRun = grepFigures(images, scratch);
    } catch (e) {
      grepSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (grepSkipped) log(`grep: ${grepSkipped}`);
  let diffFold: DiffFoldFigures | undefined;
  let diffFoldSkipped: string | undefined;
  log('diff: ttj diff of two epochs against the fold of one...');
  try {
    diffFold = diffFoldFigures(images, scratch, size);
  } catch (e) {
    diffFoldSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`diff: ${diffFoldSkipped}`);
  }
  let encryption: EncryptionFigures | undefined;
  let encryptionSkipped: string | undefined;
  log('encryption: an encrypted journal vs a plain one, append of a whole epoch, fold of a later one...');
  try {
    encryption = encryptionFigures(images, scratch, size);
  } catch (e) {
    encryptionSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`encryption: ${encryptionSkipped}`);
  }
  for (const f of images) rmSync(f);
  let cliStart: CliStartFigures | undefined;
  let cliStartSkipped: string | undefined;
  log('CLI start: ttj --version, --help and log of a small journal against node -e 0...');
  try {
    cliStart = cliStartFigures(quick ? 5 : 15);
  } catch (e) {
    cliStartSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`CLI start: ${cliStartSkipped}`);
  }
  let uiOpen: UiOpenFigures | undefined;
  let uiOpenSkipped: string | undefined;
  if (argv.includes('--no-ui')) uiOpenSkipped = 'skipped (--no-ui)';
  else if (!haveChromium()) uiOpenSkipped = 'chromium not installed';
  else {
    log('ui: a journal of 10,000 frames opened and scrubbed in ttj ui (Chromium), against ttj log of it...');
    try {
      uiOpen = await uiOpenFigures(scratch, quick ? 2000 : 10000);
    } catch (e) {
      uiOpenSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (uiOpenSkipped) log(`ui: ${uiOpenSkipped}`);
  let pruned: PruneFigures | undefined;
  let pruneSkipped: string | undefined;
  log('prune: ttj prune of a 300-epoch journal to its last 50 while a writer appends...');
  try {
    pruned = await pruneFigures(join(root, 'bin', 'run.js'), scratch);
  } catch (e) {
    pruneSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`prune: ${pruneSkipped}`);
  }

  log(`long history: ${longEpochs} epochs of a ${LONG.sizeMiB} MiB guest, ${LONG.dirtyPages} dirty pages each; fold early vs last (median of 5)...`);
  const long = await runLongHistory(scratch, LONG.sizeMiB, longEpochs, LONG.dirtyPages);

  log(`push: a ${size} MiB guest's journal to an empty destination, then one more epoch (${DIRTY * 100}% of pages changed)...`);
  const pushed = await pushBytes(scratch, size, DIRTY);

  let nbd: NbdFigures | undefined;
  let nbdSustained: NbdSustainedFigures | undefined;
  let nbdProtocol: Awaited<ReturnType<typeof optionalNbd>> | undefined;
  if (argv.includes('--no-nbd')) log('NBD: skipped (--no-nbd)');
  else if (installed('nbdcopy') && installed('qemu-nbd')) {
    const nbdMiB = quick ? 64 : Math.min(size, 256);
    log(`NBD: ttj nbd (journal-backed) vs qemu-nbd, nbdcopy of ${nbdMiB} MiB...`);
    nbd = await nbdThroughput(join(root, 'bin', 'run.js'), scratch, nbdMiB);
    if (!quick) {
      log('NBD: a sustained 1 GiB sequential write, ttj nbd vs qemu-nbd...');
      nbdSustained = await nbdSustainedWrite(join(root, 'bin', 'run.js'), scratch, 1024);
    }
    log('NBD: the protocol layer over a plain file (benchNbd) vs qemu-nbd...');
    const dir = join(scratch, 'nbd-proto');
    mkdirSync(dir);
    nbdProtocol = await optionalNbd({ sizeMiB: nbdMiB, runs: 3, dir });
    rmSync(dir, { recursive: true, force: true });
  } else log('NBD: nbdcopy or qemu-nbd not installed (skipped)');
  let nbdRandom: NbdRandomWriteFigures | undefined;
  let nbdRandomSkipped: string | undefined;
  if (argv.includes('--no-nbd')) nbdRandomSkipped = 'skipped (--no-nbd)';
  else if (!installed('fio') || !installed('qemu-nbd')) nbdRandomSkipped = 'fio or qemu-nbd not installed (journal-tools/bootstrap.sh --bench)';
  else {
    log('NBD: random 4 KiB writes with fio (nbd engine), ttj nbd vs qemu-nbd, and the journal growth...');
    try {
      nbdRandom = await nbdRandomWrite(join(root, 'bin', 'run.js'), scratch, quick ? 64 : 256, quick ? 8 : 32, quick ? 3 : 5);
    } catch (e) {
      nbdRandomSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (nbdRandomSkipped) log(`NBD random writes: ${nbdRandomSkipped}`);

  let pause: PauseFigures[] | undefined;
  if (argv.includes('--no-record')) log('record: skipped (--no-record)');
  else if (installed('qemu-system-x86_64')) {
    const sizes = quick ? [64, 256] : [64, 256, 1024];
    log(`record: the boot-sector guest at ${sizes.join(', ')} MiB, an epoch every 500 ms, 10 fps...`);
    try {
      pause = await recordPause(scratch, sizes, quick ? 4 : 6);
    } catch (e) {
      log(`record: failed (${(e as Error).message.split('\n')[0]}); skipped`);
    }
  } else log('record: qemu-system-x86_64 not installed (skipped)');

  let movedVm: PushVmFigures | undefined;
  let movedVmSkipped: string | undefined;
  if (argv.includes('--no-record')) movedVmSkipped = 'skipped (--no-record)';
  else if (!installed('qemu-system-x86_64')) movedVmSkipped = 'qemu-system-x86_64 not installed';
  else {
    log("moving a VM: record the Linux guest (256 MiB), push an early epoch, push again 10 s of epochs later; QEMU's migration stream of the same VM...");
    try {
      movedVm = await pushVm(scratch, { log });
    } catch (e) {
      movedVmSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (movedVmSkipped) log(`moving a VM: ${movedVmSkipped}`);

  let scaling: ScalingFigures | undefined;
  let scalingSkipped: string | undefined;
  if (!argv.includes('--scaling') && process.env.TTJ_BENCH_SCALING !== '1') scalingSkipped = 'opt-in: run with --scaling (or TTJ_BENCH_SCALING=1)';
  else if (!installed('qemu-system-x86_64')) scalingSkipped = 'qemu-system-x86_64 not installed';
  else {
    try {
      scaling = await scalingFigures(scratch, { sizes: quick ? [64, 256] : undefined, histories: quick ? [10, 100] : undefined, log });
    } catch (e) {
      scalingSkipped = `failed: ${(e as Error).message.split('\n')[0]}`;
      log(`scaling: ${scalingSkipped}`);
    }
  }

  log('page scanner (benchScan)...');
  const scan = await optionalScan(size);

  const result: BenchResult = {
    date: new Date().toISOString(),
    durationS: 0,
    machine: machine(),
    workload: { sizeMiB: size, pageSize: PAGE, mix: MIX, epochs, dirtyFraction: DIRTY, foldEpochs, quick },
    ttj,
    long,
    peers,
    missingPeers: missing,
    nbd,
    nbdSustained,
    nbdProtocol: nbdProtocol?.ok ? nbdProtocol.value : undefined,
    nbdProtocolSkipped: nbdProtocol && !nbdProtocol.ok ? nbdProtocol.reason : undefined,
    nbdRandom,
    nbdRandomSkipped,
    pause,
    scan: scan.ok ? scan.value : undefined,
    scanSkipped: scan.ok ? undefined : scan.reason,
    pgStore,
    pgStoreSkipped,
    grep: grepRun,
    grepSkipped,
    diffFold,
    diffFoldSkipped,
    uiOpen,
    uiOpenSkipped,
    prune: pruned,
    pruneSkipped,
    push: pushed,
    pushVm: movedVm,
    pushVmSkipped: movedVmSkipped,
    cliStart,
    cliStartSkipped,
    scaling,
    scalingSkipped,
    encryption,
    encryptionSkipped,
    loadAverage: loadavg(),
    ratios: undefined!,
  };
  result.ratios = computeRatios(result);
  result.durationS = Math.round((performance.now() - started) / 1000);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'bench.json'), JSON.stringify(result, null, 2) + '\n');
  printReport(result);
  if (!argv.includes('--no-docs')) writeDocs(result, join(root, 'docs', 'benchmarks.md'));
  log(`done: ${join(outDir, 'bench.json')}${argv.includes('--no-docs') ? '' : ', docs/benchmarks.md'}`);
} finally {
  cleanup();
}
