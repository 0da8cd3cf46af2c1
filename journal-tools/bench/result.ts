/** The benchmark's result (bench.json), the ratios against peers, and the targets they are judged by. */
import type { Machine } from './machine.js';
import type { PeerRun } from './peers.js';
import type { LongRun, TtjRun } from './ttj.js';
import type { NbdFigures, NbdSustainedFigures } from './nbd-throughput.js';
import type { NbdRandomWriteFigures } from './nbd-random-write.js';
import type { PauseFigures } from './record-pause.js';
import type { ScalingFigures } from './scaling.js';
import type { NbdProtocolFigures, ScanFigures } from './optional.js';
import type { PgStoreFigures } from './pg-store.js';
import type { PushFigures } from './push-bytes.js';
import type { PushVmFigures } from './push-vm.js';
import type { GrepFigures } from './grep-history.js';
import type { DiffFoldFigures } from './diff-fold.js';
import type { CliStartFigures } from './cli-start.js';
import type { UiOpenFigures } from './ui-open.js';
import type { EncryptionFigures } from './encryption.js';
import type { PruneFigures } from './prune-window.js';

export interface BenchResult {
  date: string;
  durationS: number;
  machine: Machine;
  workload: { sizeMiB: number; pageSize: number; mix: { zero: number; text: number; random: number }; epochs: number; dirtyFraction: number; foldEpochs: number[]; quick: boolean };
  ttj: TtjRun;
  long: LongRun;
  peers: PeerRun[];
  missingPeers: string[];
  nbd?: NbdFigures;
  /** A 1 GiB sequential write on both servers (not with --quick). */
  nbdSustained?: NbdSustainedFigures;
  nbdProtocol?: NbdProtocolFigures;
  nbdProtocolSkipped?: string;
  /** Random 4 KiB writes with fio's nbd engine, and the journal's growth (absent in results from before it existed). */
  nbdRandom?: NbdRandomWriteFigures;
  nbdRandomSkipped?: string;
  pause?: PauseFigures[];
  scan?: ScanFigures;
  scanSkipped?: string;
  /** The PostgreSQL store against the embedded store (undefined with --no-pg or without postgresql-15). */
  pgStore?: PgStoreFigures;
  pgStoreSkipped?: string;
  /** ttj grep against fold + grep -c of every epoch (undefined with --no-grep, and in results from before grep existed). */
  grep?: GrepFigures;
  grepSkipped?: string;
  /** ttj diff of two epochs against the fold of one (absent in results from before diff existed). */
  diffFold?: DiffFoldFigures;
  diffFoldSkipped?: string;
  /** ttj ui opening and scrubbing a journal of 10,000 frames in Chromium (absent in results from before the ui existed). */
  uiOpen?: UiOpenFigures;
  uiOpenSkipped?: string;
  /** ttj prune of a 300-epoch journal to its last 50, with a writer appending meanwhile (absent in results from before prune existed). */
  prune?: PruneFigures;
  pruneSkipped?: string;
  /** Push to an empty destination, then of one more epoch (absent in results from before push existed). */
  push?: PushFigures;
  /** Moving a recorded VM: a second push against QEMU's migration stream (undefined with --no-record or without QEMU). */
  pushVm?: PushVmFigures;
  pushVmSkipped?: string;
  /** Start-up of `ttj --version`, `--help` and `log` against `node -e 0` (absent in results from before it was measured). */
  cliStart?: CliStartFigures;
  cliStartSkipped?: string;
  /** How costs grow with guest size and history length (with --scaling or TTJ_BENCH_SCALING=1). */
  scaling?: ScalingFigures;
  scalingSkipped?: string;
  /** An encrypted journal against a plain one (absent in results from before encryption existed). */
  encryption?: EncryptionFigures;
  encryptionSkipped?: string;
  /** Load averages (1, 5, 15 min) at the end of the run: the machine is shared, 2 cores. */
  loadAverage?: number[];
  ratios: Ratios;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The median over the epochs after the first. */
export const later = (xs: number[]) => median(xs.slice(1));
export const peer = (r: BenchResult, name: string) => r.peers.find((p) => p.name === name);

export interface Ratios {
  /** Later epochs, medians: ttj append as a process (spawn to exit) / borg create (a process too). */
  ingestVsBorg?: number;
  /** The same with ttj's in-process time (no Node startup): the library's own cost. */
  ingestVsBorgInProcess?: number;
  ingestFirstVsBorg?: number;
  bytesVsBorg?: number;
  bytesVsRestic?: number;
  bytesVsZstdFull?: number;
  /** Bytes added by the later epochs only: ttj / zstd -1 full checkpoints of those epochs (the steady state). */
  laterBytesVsZstdFull?: number;
  /** Fold (process) / borg extract (process) of the same epoch, by epoch. */
  foldVsBorg: Record<number, number>;
  foldVsRestic: Record<number, number>;
  foldVsZstdDecompress: Record<number, number>;
  /** (peak RSS − RSS of an idle Node process with ttj loaded) / guest size. */
  peakRssVsGuest: { append: number; fold: number; verify: number };
  /** Long history: in-child fold time of the last epoch / of an early epoch. */
  longFoldLateVsEarly: number;
  /** ttj append (process) of a later epoch / zstd -1 of the same full image. */
  ingestVsZstd?: number;
  /** verify --deep: GB of blobs re-read and re-hashed per second of the step (in-process). */
  verifyGBps?: number;
  /** verify --deep (process) / restic check --read-data (process) of the same history. */
  verifyVsResticCheck?: number;
  /** Peak RSS of `ttj record` beyond an idle Node+ttj process / guest size, by guest MiB. */
  recordRssVsGuest?: Record<number, number>;
}

export function computeRatios(r: BenchResult): Ratios {
  const { ttj } = r;
  const borg = peer(r, 'borg');
  const restic = peer(r, 'restic');
  const zstd = peer(r, 'zstd -1 full');
  const appendProcess = later(ttj.appends.map((a) => a.processMs));
  const appendInProcess = later(ttj.appends.map((a) => a.ms));
  const baseKb = ttj.noop.maxRssKb;
  const guestKb = r.workload.sizeMiB * 1024;
  const byEpoch = (p: PeerRun | undefined) => (p ? Object.fromEntries(r.workload.foldEpochs.filter((e) => p.restoreMs[e] !== undefined).map((e) => [e, ttj.folds[e]!.processMs / p.restoreMs[e]!])) : {});
  const firstBytes = ttj.bytesAfter[0]!;
  return {
    ingestVsBorg: borg ? appendProcess / later(borg.ingestMs) : undefined,
    ingestVsBorgInProcess: borg ? appendInProcess / later(borg.ingestMs) : undefined,
    ingestFirstVsBorg: borg ? ttj.appends[0]!.processMs / borg.ingestMs[0]! : undefined,
    ingestVsZstd: zstd ? appendProcess / later(zstd.ingestMs) : undefined,
    bytesVsBorg: borg ? ttj.bytes.total / borg.bytes : undefined,
    bytesVsRestic: restic ? ttj.bytes.total / restic.bytes : undefined,
    bytesVsZstdFull: zstd ? ttj.bytes.total / zstd.bytes : undefined,
    laterBytesVsZstdFull: zstd?.bytesPerEpoch ? (ttj.bytes.total - firstBytes) / zstd.bytesPerEpoch.slice(1).reduce((a, b) => a + b, 0) : undefined,
    foldVsBorg: byEpoch(borg),
    foldVsRestic: byEpoch(restic),
    foldVsZstdDecompress: byEpoch(zstd),
    peakRssVsGuest: {
      append: (Math.max(...ttj.appends.map((a) => a.maxRssKb)) - baseKb) / guestKb,
      fold: (Math.max(...Object.values(ttj.folds).map((f) => f.maxRssKb)) - baseKb) / guestKb,
      verify: (ttj.verify.maxRssKb - baseKb) / guestKb,
    },
    longFoldLateVsEarly: r.long.foldLate.ms / r.long.foldEarly.ms,
    verifyGBps: Number(ttj.verify.bytesChecked) / 1e9 / (ttj.verify.ms / 1000),
    verifyVsResticCheck: restic?.checkMs ? ttj.verify.processMs / restic.checkMs : undefined,
    recordRssVsGuest: r.pause?.length ? Object.fromEntries(r.pause.filter((p) => p.peakRssKb).map((p) => [p.sizeMiB, (p.peakRssKb! - baseKb) / (p.sizeMiB * 1024)])) : undefined,
  };
}

/** One target: what, the limit, the measured value (undefined: not measured), and the direction. */
export interface Target {
  id: string;
  what: string;
  limit: number;
  /** 'max': the value must be at most the limit (`strict`: below it); 'min': at least. */
  kind: 'max' | 'min';
  strict?: boolean;
  value?: number;
  /** Why it is not measured, when it is not. */
  skipped?: string;
}

const worst = (o: Record<number, number>) => (Object.keys(o).length ? Math.max(...Object.values(o)) : undefined);

export function targets(r: BenchResult): Target[] {
  const x = r.ratios;
  const pause256 = r.pause?.find((p) => p.sizeMiB === 256);
  const pause1g = r.pause?.find((p) => p.sizeMiB === 1024);
  const noRecord = r.pause ? undefined : 'not measured (QEMU missing or --no-record)';
  const restic = peer(r, 'restic');
  const nbd1 = r.nbdProtocol?.cases.find((c) => c.connections === 1) ?? r.nbdProtocol?.cases[0];
  const missing = (name: string) => (r.missingPeers.includes(name) ? `${name} not installed` : undefined);
  return [
    { id: 'ingest', what: 'Ingest: ttj append of a later epoch / borg create of the same image (both as processes)', limit: 0.25, kind: 'max', value: x.ingestVsBorg, skipped: missing('borg') },
    { id: 'bytesBorg', what: `Storage after ${r.workload.epochs} epochs: ttj / borg`, limit: 1, kind: 'max', value: x.bytesVsBorg, skipped: missing('borg') },
    { id: 'bytesZstd', what: `Storage after ${r.workload.epochs} epochs: ttj / ${r.workload.epochs} zstd -1 full checkpoints`, limit: 0.15, kind: 'max', value: x.bytesVsZstdFull, skipped: missing('zstd') },
    { id: 'foldBorg', what: `Fold: ttj fold / borg extract of the same epoch (worst of epochs ${r.workload.foldEpochs.join(' and ')})`, limit: 0.5, kind: 'max', value: worst(x.foldVsBorg), skipped: missing('borg') },
    {
      id: 'foldRestic',
      what: `Fold: ttj fold / restic restore of the same epoch (worst of epochs ${r.workload.foldEpochs.join(' and ')})`,
      limit: 0.5,
      kind: 'max',
      value: worst(x.foldVsRestic),
      skipped: missing('restic'),
    },
    { id: 'rssAppend', what: 'Peak RSS of append: (peak − idle Node+ttj) / guest size', limit: 2, kind: 'max', strict: true, value: x.peakRssVsGuest.append },
    { id: 'rssFold', what: 'Peak RSS of fold: (peak − idle Node+ttj) / guest size', limit: 2, kind: 'max', strict: true, value: x.peakRssVsGuest.fold },
    { id: 'long', what: `Long history (${r.long.epochs} epochs): fold of epoch ${r.long.lateEpoch} / fold of epoch ${r.long.earlyEpoch}`, limit: 1.3, kind: 'max', value: x.longFoldLateVsEarly },
    {
      id: 'scanNative',
      what: 'Native page scan of a memory-like image, GB/s',
      limit: 4,
      kind: 'min',
      value: r.scan?.nativeGBps,
      skipped: r.scanSkipped ?? (r.scan && !r.scan.nativeLoaded ? 'native addon not loaded' : undefined),
    },
    { id: 'scanRatio', what: 'Native page scan / TypeScript fallback', limit: 10, kind: 'min', value: r.scan?.ratio, skipped: r.scanSkipped ?? (r.scan && !r.scan.nativeLoaded ? 'native addon not loaded' : undefined) },
    { id: 'verifyGBps', what: 'verify --deep: GB/s of blobs re-read and re-hashed (in-step time)', limit: 1, kind: 'min', value: x.verifyGBps },
    {
      id: 'verifyRestic',
      what: `verify --deep / restic check --read-data of the same ${r.workload.epochs} epochs (both as processes)`,
      limit: 0.5,
      kind: 'max',
      value: x.verifyVsResticCheck,
      skipped: missing('restic') ?? (restic && !restic.checkMs ? 'not measured' : undefined),
    },
    { id: 'pause', what: 'VM pause per epoch of ttj record, p50, 256 MiB guest (ms)', limit: 20, kind: 'max', value: pause256?.pauseP50Ms, skipped: noRecord },
    { id: 'pause1g', what: 'VM pause per epoch of ttj record, p50, 1 GiB guest (ms)', limit: 40, kind: 'max', value: pause1g?.pauseP50Ms, skipped: noRecord ?? (pause1g ? undefined : 'not measured (--quick)') },
    {
      id: 'recordRss',
      what: "Peak RSS of ttj record beyond an idle Node+ttj (the guest RAM is QEMU's) / guest size, 1 GiB guest",
      limit: 0.5,
      kind: 'max',
      value: x.recordRssVsGuest?.[1024],
      skipped: noRecord ?? (pause1g ? undefined : 'not measured (--quick)'),
    },
    {
      id: 'nbdWrite',
      what: 'NBD sequential write, journal-backed: ttj nbd / qemu-nbd',
      limit: 0.5,
      kind: 'min',
      value: r.nbd?.ratio.write,
      skipped: r.nbd ? undefined : 'not measured (--no-nbd, or nbdcopy/qemu-nbd missing)',
    },
    {
      id: 'nbdRead',
      what: 'NBD sequential read, journal-backed: ttj nbd / qemu-nbd',
      limit: 0.5,
      kind: 'min',
      value: r.nbd?.ratio.read,
      skipped: r.nbd ? undefined : 'not measured (--no-nbd, or nbdcopy/qemu-nbd missing)',
    },
    {
      id: 'nbdRandomWrite',
      what: `NBD random 4 KiB writes of random data (fio, nbd engine, iodepth 16), IOPS: ttj nbd / qemu-nbd`,
      limit: 0.5,
      kind: 'min',
      value: r.nbdRandom?.ratio,
      skipped: r.nbdRandomSkipped ?? (r.nbdRandom ? undefined : 'not measured'),
    },
    {
      id: 'nbdRandomGrowth',
      what: `Journal growth per byte of random 4 KiB writes (fio, ${r.nbdRandom?.ioMiB ?? 32} MiB over a used ${r.nbdRandom?.sizeMiB ?? 256} MiB disk of ${(r.nbdRandom?.blockSize ?? 65536) / 1024} KiB blocks)`,
      limit: 1.5,
      kind: 'max',
      value: r.nbdRandom?.growth,
      skipped: r.nbdRandomSkipped ?? (r.nbdRandom ? undefined : 'not measured'),
    },
    {
      id: 'nbdRandomGrowthSparse',
      what: 'Journal growth per byte of sparse random 4 KiB writes (fio, 4096 writes over a new journal: few share a block)',
      limit: 1.5,
      kind: 'max',
      value: r.nbdRandom?.sparseGrowth,
      skipped: r.nbdRandomSkipped ?? (r.nbdRandom ? undefined : 'not measured'),
    },
    {
      id: 'pushBytes',
      what: `Push: bytes sent by a second push (an epoch with ${r.push ? r.push.dirtyFraction * 100 : 5}% of pages changed) / bytes of a full copy`,
      limit: 0.1,
      kind: 'max',
      value: r.push?.ratio,
      skipped: r.push ? undefined : 'not measured',
    },
    {
      id: 'pushVm',
      what: r.pushVm
        ? `Moving a VM: bytes ttj push sends to a destination ${r.pushVm.epochsBehind} epochs (${r.pushVm.secondsBehind.toFixed(0)} s) behind / QEMU's migration stream of the same VM (${r.pushVm.guest} guest, ${r.pushVm.memoryMiB} MiB)`
        : "Moving a VM: bytes ttj push sends to a destination that holds an older epoch / QEMU's migration stream of the same VM",
      limit: 0.2,
      kind: 'max',
      value: r.pushVm?.ratio,
      skipped: r.pushVmSkipped ?? (r.pushVm ? undefined : 'not measured'),
    },
    {
      id: 'pruneWriterP99',
      what: `Prune: a concurrent writer's p99 commit latency while ttj prune runs (${r.prune?.epochs ?? 300} epochs, keep the last ${r.prune?.kept ?? 50}) / its p99 without a prune`,
      limit: 10,
      kind: 'max',
      value: r.prune?.ratio,
      skipped: r.pruneSkipped ?? (r.prune ? undefined : 'not measured'),
    },
    {
      id: 'diffFold',
      what: `Diff: ttj diff of two epochs / ttj fold of one (${r.diffFold?.sizeMiB ?? r.workload.sizeMiB} MiB guest, in-step times)`,
      limit: 0.1,
      kind: 'max',
      value: r.diffFold?.ratio,
      skipped: r.diffFoldSkipped ?? (r.diffFold ? undefined : 'not measured'),
    },
    {
      id: 'uiOpen',
      what: `ttj ui: a journal of ${r.uiOpen?.frames ?? 10000} frames opened in Chromium (page load to every frame on the scrubber, frame 0 drawn), ms`,
      limit: 2000,
      kind: 'max',
      value: r.uiOpen?.openMs,
      skipped: r.uiOpenSkipped ?? (r.uiOpen ? undefined : 'not measured'),
    },
    {
      id: 'uiOpenVsLog',
      what: `ttj ui: opening the page / ttj log of the same journal in-process (the index listing it draws from)`,
      limit: 10,
      kind: 'max',
      value: r.uiOpen?.ratio,
      skipped: r.uiOpenSkipped ?? (r.uiOpen ? undefined : 'not measured'),
    },
    {
      id: 'nbdProtoWrite',
      what: 'NBD protocol layer (plain file), 1 connection, write: ttj / qemu-nbd',
      limit: 0.5,
      kind: 'min',
      value: nbd1?.ratio?.write,
      skipped: r.nbdProtocolSkipped ?? (r.nbdProtocol ? undefined : 'not measured (--no-nbd, or nbdcopy/qemu-nbd missing)'),
    },
    {
      id: 'nbdProtoRead',
      what: 'NBD protocol layer (plain file), 1 connection, read: ttj / qemu-nbd',
      limit: 0.5,
      kind: 'min',
      value: nbd1?.ratio?.read,
      skipped: r.nbdProtocolSkipped ?? (r.nbdProtocol ? undefined : 'not measured (--no-nbd, or nbdcopy/qemu-nbd missing)'),
    },
    {
      id: 'grepVsFold',
      what: `Grep: fold + grep -c of each of the ${r.grep?.epochs ?? r.workload.epochs} epochs / ttj grep of the whole history (in-step times)`,
      limit: 5,
      kind: 'min',
      value: r.grep?.ratio,
      skipped: r.grepSkipped ?? (r.grep ? undefined : 'not measured'),
    },
    {
      id: 'cliVersion',
      what: '`ttj --version` / `node -e 0`, each a whole process (wall clock, median)',
      limit: 1.5,
      kind: 'max',
      value: r.cliStart?.ratio.version,
      skipped: r.cliStartSkipped ?? (r.cliStart ? undefined : 'not measured'),
    },
    {
      id: 'cliLog',
      what: '`ttj log` of a one-epoch journal / `node -e 0`, each a whole process (wall clock, median)',
      limit: 2,
      kind: 'max',
      value: r.cliStart?.ratio.log,
      skipped: r.cliStartSkipped ?? (r.cliStart ? undefined : 'not measured'),
    },
    {
      id: 'pgAppend',
      what: `PostgreSQL store: append of a whole ${r.pgStore?.sizeMiB ?? r.workload.sizeMiB} MiB epoch, throughput / the embedded store's`,
      limit: 0.5,
      kind: 'min',
      value: r.pgStore?.ratio.append,
      skipped: r.pgStoreSkipped ?? (r.pgStore ? undefined : 'not measured'),
    },
    {
      id: 'encAppend',
      what: `Encrypted journal: append of a whole ${r.encryption?.sizeMiB ?? r.workload.sizeMiB} MiB epoch, throughput / a plain journal's (after opening; unlocking the key ${r.encryption ? `${Math.round(r.encryption.unlockMs)} ms` : ''} apart)`,
      limit: 0.8,
      kind: 'min',
      value: r.encryption?.ratio.append,
      skipped: r.encryptionSkipped ?? (r.encryption ? undefined : 'not measured'),
    },
    {
      id: 'encFold',
      what: "Encrypted journal: fold of a later epoch, throughput / a plain journal's (after opening)",
      limit: 0.8,
      kind: 'min',
      value: r.encryption?.ratio.fold,
      skipped: r.encryptionSkipped ?? (r.encryption ? undefined : 'not measured'),
    },
    {
      id: 'pgFold',
      what: `PostgreSQL store: fold of a later epoch, throughput / the embedded store's`,
      limit: 0.5,
      kind: 'min',
      value: r.pgStore?.ratio.fold,
      skipped: r.pgStoreSkipped ?? (r.pgStore ? undefined : 'not measured'),
    },
  ];
}

export function met(t: Target): boolean | undefined {
  if (t.value === undefined || !Number.isFinite(t.value)) return undefined;
  if (t.kind === 'min') return t.value >= t.limit;
  return t.strict ? t.value < t.limit : t.value <= t.limit;
}

/** "met, 35% under the limit" / "missed: 2.1x the limit" / "missed: 0.6x of the floor". */
export function margin(t: Target): string {
  const ok = met(t);
  if (ok === undefined) return t.skipped ?? 'not measured';
  const v = t.value!;
  if (t.kind === 'max') {
    if (ok) return `met, ${Math.round((1 - v / t.limit) * 100)}% under the limit`;
    return `**missed** by ${Math.round((v / t.limit - 1) * 100)}% (${(v / t.limit).toFixed(2)}x the limit)`;
  }
  if (ok) return `met, ${Math.round((v / t.limit - 1) * 100)}% above the floor`;
  return `**missed** by ${Math.round((1 - v / t.limit) * 100)}% (${(v / t.limit).toFixed(2)}x the floor)`;
}
