import { foldState } from './fold.js';
import type { FrameEntry, LabelEntry } from './index-keys.js';
import type { Journal } from './journal.js';
import type { ResolvedPoint } from './point.js';
import { changedRuns } from './table-diff.js';
import type { DiskState, VmState } from './vm-state.js';

/** Options of {@link diff}. */
export interface DiffOptions {
  /** The POINT compared from. */
  a: string;
  /** The POINT compared to. */
  b: string;
}

/** One side of a diff: the point and where it is in the stream. */
export interface DiffPoint {
  point: string;
  /** Disks are those at this seq. */
  seq: number;
  /** Memory and device are those of this epoch (-1: none committed yet). */
  epoch: number;
  frame?: number;
  label?: string;
}

/** A run of changed memory pages: `pages` pages from page frame number `pfn` (`bytes` = pages × page size). */
export interface PageRange {
  pfn: number;
  pages: number;
  bytes: number;
}

/** A run of changed disk blocks, in bytes of the disk (a short last block ends at the disk's end). */
export interface DiskRange {
  offset: number;
  length: number;
  blocks: number;
}

/** How the memory differs. */
export interface MemoryDiff {
  size: number;
  pageSize: number;
  changedPages: number;
  changedBytes: number;
  /** Of the changed pages: zero at A and not at B, and not zero at A but zero at B. */
  fromZero: number;
  toZero: number;
  ranges: PageRange[];
}

/** How one disk differs. */
export interface DiskDiff {
  name: string;
  size: number;
  blockSize: number;
  /** The disk exists at only one of the points (it is all zero at the other). */
  onlyIn?: 'a' | 'b';
  changedBlocks: number;
  changedBytes: number;
  ranges: DiskRange[];
}

/** The device state at each side (absent: none recorded yet), and whether it differs. */
export interface DeviceDiff {
  changed: boolean;
  a?: { length: number; sha256: string };
  b?: { length: number; sha256: string };
}

/** `ttj diff --json`: what differs between the states at two points, and what lies between them in the stream. */
export interface DiffResult {
  journal: string;
  a: DiffPoint;
  b: DiffPoint;
  /** Absent when neither point has memory. */
  memory?: MemoryDiff;
  /** Every disk of either point, by name (unchanged ones with no ranges). */
  disks: DiskDiff[];
  device: DeviceDiff;
  /** Frames appended after the earlier point, up to and including the later one, and the labels of the epochs committed there. */
  frames: FrameEntry[];
  labels: LabelEntry[];
}

/** The two states a diff compared (content addresses only), for reading the changed bytes. */
export interface DiffStates {
  a: VmState;
  b: VmState;
}

/**
 * What changed between the states at points A and B: memory pages and disk blocks
 * whose content addresses differ (so a page that changed and changed back is no
 * difference), whether the device state differs, and the frames and labels in between.
 * Compares the two states' page tables, skipping equal Merkle chunks; reads no page.
 * @throws TtjError BAD_POINT, POINT_NOT_FOUND, and what a fold of either point throws.
 */
export async function diff(j: Journal, opts: DiffOptions): Promise<DiffResult> {
  return (await diffWithStates(j, opts)).result;
}

/** {@link diff}, with the two states compared. */
export async function diffWithStates(j: Journal, opts: DiffOptions): Promise<{ result: DiffResult; states: DiffStates }> {
  const a = await foldState(j, opts.a);
  const b = await foldState(j, opts.b);
  const sa = a.state;
  const sb = b.state;
  const result: DiffResult = {
    journal: j.location,
    a: side(a.point),
    b: side(b.point),
    memory: memoryDiff(sa, sb),
    disks: disksDiff(sa, sb),
    device: deviceDiff(sa, sb),
    ...(await between(j, Math.min(a.point.seq, b.point.seq), Math.max(a.point.seq, b.point.seq))),
  };
  return { result, states: { a: sa, b: sb } };
}

function side(p: ResolvedPoint): DiffPoint {
  return { point: p.point, seq: p.seq, epoch: p.epoch, frame: p.frame?.frame, label: p.label };
}

function memoryDiff(a: VmState, b: VmState): MemoryDiff | undefined {
  const size = b.memory ? b.memorySize : a.memorySize;
  if (!a.memory && !b.memory) return undefined;
  const ps = a.pageSize;
  const runs = changedRuns(a.memory, b.memory, size / ps);
  let changedPages = 0;
  let fromZero = 0;
  let toZero = 0;
  for (const r of runs) {
    changedPages += r.count;
    for (let i = r.first; i < r.first + r.count; i++) {
      if (!a.memory || a.memory.isZero(i)) fromZero++;
      else if (!b.memory || b.memory.isZero(i)) toZero++;
    }
  }
  return { size, pageSize: ps, changedPages, changedBytes: changedPages * ps, fromZero, toZero, ranges: runs.map((r) => ({ pfn: r.first, pages: r.count, bytes: r.count * ps })) };
}

function disksDiff(a: VmState, b: VmState): DiskDiff[] {
  const names = [...new Set([...a.disks.keys(), ...b.disks.keys()])].sort();
  return names.map((name) => {
    const da = a.disks.get(name);
    const db = b.disks.get(name);
    const d = (db ?? da)!;
    const ranges = changedRuns(da?.table, db?.table, d.table.count).map((r) => diskRange(d, r.first, r.count));
    const changedBytes = ranges.reduce((n, r) => n + r.length, 0);
    const changedBlocks = ranges.reduce((n, r) => n + r.blocks, 0);
    return { name, size: d.size, blockSize: d.blockSize, onlyIn: da && db ? undefined : da ? 'a' : 'b', changedBlocks, changedBytes, ranges };
  });
}

/** Blocks `first`..`first + count - 1` of disk `d` as bytes of the disk. */
function diskRange(d: DiskState, first: number, count: number): DiskRange {
  const offset = first * d.blockSize;
  return { offset, length: Math.min(count * d.blockSize, d.size - offset), blocks: count };
}

function deviceDiff(a: VmState, b: VmState): DeviceDiff {
  const ref = (s: VmState) => (s.device ? { length: s.device.length, sha256: s.device.contentHash.toString('hex') } : undefined);
  const ra = ref(a);
  const rb = ref(b);
  return { changed: ra?.sha256 !== rb?.sha256, a: ra, b: rb };
}

/** Frames with `lo < seq <= hi`, and the labels of the epochs committed there, from the index. */
async function between(j: Journal, lo: number, hi: number): Promise<{ frames: FrameEntry[]; labels: LabelEntry[] }> {
  const frames: FrameEntry[] = [];
  for (let n = ((await j.frameAtOrBeforeSeq(lo))?.frame ?? -1) + 1; ; n++) {
    const f = await j.frame(n);
    if (!f || f.seq > hi) break;
    frames.push(f);
  }
  // A label sits at the epoch it names (which may be labelled long after its commit: `ttj label --at`).
  const labels: (LabelEntry & { commitSeq: number })[] = [];
  const commitSeq = new Map<number, number>();
  for await (const l of j.labels()) {
    if (!commitSeq.has(l.epoch)) commitSeq.set(l.epoch, (await j.epoch(l.epoch))?.seq ?? l.seq);
    const at = commitSeq.get(l.epoch)!;
    if (at > lo && at <= hi) labels.push({ ...l, commitSeq: at });
  }
  labels.sort((x, y) => x.commitSeq - y.commitSeq || x.seq - y.seq);
  return { frames, labels: labels.map(({ commitSeq: _c, ...l }) => l) };
}
