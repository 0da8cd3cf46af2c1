/** The benchmark's result (bench.json), the ratios against peers, and the targets they are judged by. */
import type { Machine } from './machine.js';
import type { PeerRun } from './peers.js';
import type { LongRun, TtjRun } from './ttj.js';
import type { NbdFigures, NbdSustainedFigures } from './nbd-throughput.js';
import type { PauseFigures } from './record-pause.js';
import type { NbdProtocolFigures, ScanFigures } from './optional.js';
import type { PgStoreFigures } from './pg-store.js';
import type { PushFigures } from './push-bytes.js';
import type { PushVmFigures } from './push-vm.js';
import type { GrepFigures } from './grep-history.js';
import type { DiffFoldFigures } from './diff-fold.js';
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
  /** ttj prune of a 300-epoch journal to its last 50, with a writer appending meanwhile (absent in results from before prune existed). */
  prune?: PruneFigures;
  pruneSkipped?: string;
  /** Push to an empty destination, then of one more epoch (absent in results from before push existed). */
  push?: PushFigures;
  /** Moving a recorded VM: a second push against QEMU's migration stream (undefined with --no-record or without QEMU). */
  pushVm?: PushVmFigures;
  pushVmSkipped?: string;
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
  const nbd1 = r.nbdProtocol?.cases.find((c) => c.connections === 1) ?? r.nbdProtocol?.cases[0];
  const missing = (name: string) => (r.missingPeers.includes(name) ? `${name} not installed` : undefined);
  return [
    { id: 'ingest', what: 'Ingest: ttj append of a later epoch / borg create of the same image (both as processes)', limit: 0.2, kind: 'max', value: x.ingestVsBorg, skipped: missing('borg') },
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
    { id: 'pause', what: 'VM pause per epoch of ttj record, p50, 256 MiB guest (ms)', limit: 30, kind: 'max', value: pause256?.pauseP50Ms, skipped: r.pause ? undefined : 'not measured (QEMU missing or --no-record)' },
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
      id: 'pgAppend',
      what: `PostgreSQL store: append of a whole ${r.pgStore?.sizeMiB ?? r.workload.sizeMiB} MiB epoch, throughput / the embedded store's`,
      limit: 0.5,
      kind: 'min',
      value: r.pgStore?.ratio.append,
      skipped: r.pgStoreSkipped ?? (r.pgStore ? undefined : 'not measured'),
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
