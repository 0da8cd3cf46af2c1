/**
 * The plan of a prune (`ttj prune --dry-run`): which epochs a retention policy keeps
 * and drops, the frames that go with the dropped ones, and an estimate of the space a
 * prune would free. Only reads the journal.
 *
 * What a prune keeps: each kept epoch (its memory, device state and disks as its
 * commit left them) and its frames; the head (disks as the newest event left them);
 * and the history between two kept epochs that follow each other (so every `seq:N`
 * between them still folds). Everything else goes.
 *
 * Epochs an earlier prune dropped are not planned again: the rules apply to the epochs
 * still kept (so running the same prune again drops nothing more).
 *
 * The freed space is the content blobs that become unreferenced: the pages, disk
 * blocks, device chunks and frame chunks named by events that go and named by nothing
 * that stays, with their lengths (uncompressed; the pack files hold them compressed).
 * Keyframes (their JSON and page-table chunks) always stay (docs/format.md, "Pruned
 * history").
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { ZERO_ADDR } from '../util/hash.js';
import { namedBlobs } from './blob-needs.js';
import { splitAddrs } from './chunks.js';
import type { Event } from './codec.js';
import type { ttj } from '../gen/events.js';
import type { Journal, JournalHead } from './journal.js';
import { log } from './log.js';
import type { PageTable } from './page-table.js';
import { resolvePoint } from './point.js';
import { Replayer } from './replayer.js';
import { applyRetention, type KeepReason, type RetentionPolicy } from './retention-policy.js';
import { VmState } from './vm-state.js';
import { LoopSlices } from '../util/loop-slices.js';

/** Options of {@link prunePlan}. */
export interface PrunePlanOptions {
  /** The rules (its `forkPointEpochs` are added to those of `forkPoints`). */
  policy: RetentionPolicy;
  /** POINTs (or bare seqs) forks of this journal were made from: the epoch each folds is kept. */
  forkPoints?: readonly string[];
}

/** One epoch in a prune plan. */
interface PlannedEpoch {
  epoch: number;
  seq: number;
  /** ISO-8601 commit time. */
  time: string;
  labels: string[];
  keep: boolean;
  /** The rules that keep it (empty: dropped). */
  reasons: KeepReason[];
  /** The frames bound to it (they go with it). */
  frames: number[];
}

/** `ttj prune --dry-run --json`. */
export interface PrunePlan {
  journal: string;
  head: JournalHead;
  /** True: nothing was changed. */
  dryRun: boolean;
  /** The epochs still kept before this prune, each with the verdict (epochs dropped by earlier prunes are not listed). */
  epochs: PlannedEpoch[];
  /** Epochs earlier prunes dropped. */
  prunedBefore: number;
  kept: { epochs: number; frames: number };
  dropped: { epochs: number; frames: number };
  /** Estimate of the content blobs no kept point references any more, and their stored lengths (uncompressed). */
  freed: { blobs: number; bytes: number };
}

/** Blob addresses as map keys (32 bytes as a latin1 string: half a hex string). */
const key = (a: Buffer) => a.toString('latin1');
const SIZE_BATCH = 4096;

/**
 * Computes the plan of pruning `j` to `opts.policy`, reading the index and, for the
 * freed-space estimate, every event once (cost O(history) plus O(state) once).
 * @throws TtjError BAD_ARGUMENT (the policy, a fork point without an epoch), BAD_POINT, POINT_NOT_FOUND, CORRUPT_* (a damaged journal).
 */
export async function prunePlan(j: Journal, opts: PrunePlanOptions): Promise<PrunePlan> {
  return (await planWithBlobs(j, opts)).plan;
}

/** Blobs no kept point references, up to the head seq the walk read (`planHead`): see {@link unreferencedBlobs}. */
export interface Unreferenced {
  addrs: Buffer[];
  planHead: number;
}

/**
 * {@link prunePlan}, and the blobs the plan leaves unreferenced when it drops epochs (its
 * walk: a prune removes them without walking the events again).
 */
export async function planWithBlobs(j: Journal, opts: PrunePlanOptions): Promise<{ plan: PrunePlan; unreferenced?: Unreferenced }> {
  const forkPointEpochs = [...(opts.policy.forkPointEpochs ?? [])];
  for (const p of opts.forkPoints ?? []) forkPointEpochs.push(await forkPointEpoch(j, p));
  const l = await log(j);
  const prunedBefore = new Set<number>();
  for await (const p of j.prunedEpochs()) prunedBefore.add(p.epoch);
  const live = l.epochs.filter((e) => !prunedBefore.has(e.epoch));
  const verdicts = applyRetention(
    live.map((e) => ({ epoch: e.epoch, seq: e.seq, timeUs: e.timeUs, labels: e.labels })),
    { ...opts.policy, forkPointEpochs },
  );
  const frames = new Map<number, number[]>();
  for (const f of l.frames) frames.set(f.epoch, [...(frames.get(f.epoch) ?? []), f.frame]);
  const epochs = verdicts.map((v, i): PlannedEpoch => ({ ...v, time: live[i]!.time, labels: [...v.labels], frames: frames.get(v.epoch) ?? [] }));
  const count = (keep: boolean) => {
    const es = epochs.filter((e) => e.keep === keep);
    return { epochs: es.length, frames: es.reduce((n, e) => n + e.frames.length, 0) };
  };
  const dropped = count(false);
  const keep = l.epochs.map((e) => !prunedBefore.has(e.epoch));
  for (const e of epochs) keep[e.epoch] = e.keep;
  const unreferenced = dropped.epochs ? await unreferencedBlobs(j, keep) : undefined;
  const freed = unreferenced ? await storedSize(j, unreferenced.addrs) : { blobs: 0, bytes: 0 };
  return { plan: { journal: l.journal, head: l.head, dryRun: true, epochs, prunedBefore: prunedBefore.size, kept: count(true), dropped, freed }, unreferenced };
}

/**
 * The epoch a fork point folds (memory and device of that epoch).
 * @throws TtjError BAD_POINT, POINT_NOT_FOUND, BAD_ARGUMENT (no epoch there: no fork can have been made).
 */
async function forkPointEpoch(j: Journal, p: string): Promise<number> {
  const r = await resolvePoint(j, /^\d+$/.test(p) ? `seq:${p}` : p);
  if (r.epoch < 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--keep-fork-point ${p}: no epoch is committed there, so no fork was made from it`, { point: p });
  return r.epoch;
}

/**
 * The content blobs (pages, disk blocks, device and frame chunks) that what a prune
 * keeps no longer references, when `keep[n]` says whether epoch n stays (epochs past
 * the end of `keep` stay). One walk over the events, checked as a fold checks them: the
 * blobs named in a kept stretch of history or by a frame of a kept epoch stay; at each
 * kept epoch's commit, the state's entries that changed since the previous kept commit
 * (the whole state at the first) stay, so the union of every kept state costs
 * O(changes), not O(kept epochs x state). Keyframe blobs (the JSON and the page-table
 * chunks) always stay. Also returns the last seq walked (what a removal re-checks after).
 * @throws TtjError CORRUPT_EVENT, STATE_ROOT_MISMATCH (a damaged journal).
 */
export async function unreferencedBlobs(j: Journal, keep: readonly boolean[]): Promise<Unreferenced> {
  const { kept, named, planHead } = await walkKept(j, keep);
  return { addrs: [...named].filter(([k]) => !kept.has(k)).map(([, a]) => a), planHead };
}

/**
 * The blobs the kept points of a pruned journal need (see {@link unreferencedBlobs}), as a
 * membership test: what `verify` requires to be stored.
 * @throws TtjError CORRUPT_EVENT, STATE_ROOT_MISMATCH (a damaged journal).
 */
export async function keptBlobs(j: Journal, keep: readonly boolean[]): Promise<(addr: Buffer) => boolean> {
  const { kept } = await walkKept(j, keep);
  return (a) => kept.has(key(a));
}

/** One walk over the events: the blobs kept (latin1 keys) and every other one named, up to the head seq it read (`planHead`). */
async function walkKept(j: Journal, keep: readonly boolean[]): Promise<{ kept: Set<string>; named: Map<string, Buffer>; planHead: number }> {
  const keptEpoch = (n: number) => keep[n] ?? true;
  // Events in (epoch n-1 commit, epoch n commit] stay when epochs n-1 and n both stay; events after the newest commit (the head's disks) always.
  const stretchKept = (n: number) => keptEpoch(n) && (n === 0 || keptEpoch(n - 1));
  const kept = new Set<string>();
  const named = new Map<string, Buffer>();
  const keepAddr = (a: Buffer) => {
    if (!a.equals(ZERO_ADDR)) kept.add(key(a));
  };
  const state = new VmState(j.pageSize);
  const r = new Replayer(state, ZERO_ADDR, 0);
  const dirty = new DirtySlots(state);
  let next = 0; // the epoch whose stretch the events belong to
  let keptBefore = false;
  const planHead = (await j.storeHead())?.seq ?? -1;
  // The walk runs in slices: in a live writer (`ttj prune` asks it) appends go on between them.
  const slices = new LoopSlices();
  for await (const batch of j.storedEvents(0, planHead + 1)) {
    for (const { seq, bytes } of batch) {
      await slices.pause();
      const ev = r.feed(seq, bytes);
      const bound = ev.body === 'frame' ? ev.frame!.epoch : ev.body === 'audio' ? ev.audio!.epoch : undefined;
      const inKept = bound !== undefined && bound !== null ? keptEpoch(Number(bound)) : stretchKept(next);
      for (const a of namedBlobs(ev, seq)) {
        const k = key(a);
        if (inKept) kept.add(k);
        else if (!named.has(k)) named.set(k, a);
      }
      dirty.note(ev);
      if (ev.body !== 'epochCommit') continue;
      if (keptEpoch(next)) {
        if (keptBefore) dirty.forEach(keepAddr);
        else await forEachEntry(state, keepAddr, slices);
        keptBefore = true;
        dirty.clear();
      }
      next++;
    }
  }
  for await (const kf of j.keyframes()) {
    if (kf.seq > planHead) break;
    await slices.pause();
    await VmState.fromKeyframe(
      async (addrs) => {
        addrs.forEach(keepAddr);
        return j.blobs(addrs);
      },
      Buffer.from(kf.addr, 'hex'),
    );
  }
  return { kept, named, planHead };
}

/** How many of `addrs` are stored, and their lengths (those an earlier prune removed are not counted). */
async function storedSize(j: Journal, addrs: Buffer[]): Promise<PrunePlan['freed']> {
  let bytes = 0;
  let blobs = 0;
  for (let i = 0; i < addrs.length; i += SIZE_BATCH) {
    for (const n of await j.blobSizes(addrs.slice(i, i + SIZE_BATCH))) {
      if (n === undefined) continue;
      blobs++;
      bytes += n;
    }
  }
  return { blobs, bytes };
}

/**
 * Every content address of a state: memory pages, disk blocks, device chunks (zero
 * entries included; the caller skips them); with `slices`, giving the event loop back
 * every 4096 entries (default: none, at once).
 */
export async function forEachEntry(s: VmState, f: (a: Buffer) => void, slices?: LoopSlices): Promise<void> {
  const table = async (t: PageTable | undefined) => {
    for (let i = 0; t && i < t.count; i++) {
      f(t.get(i));
      if (slices && i % 4096 === 4095) await slices.pause();
    }
  };
  await table(s.memory);
  for (const d of s.disks.values()) await table(d.table);
  deviceChunks(s, f);
}

function deviceChunks(s: VmState, f: (a: Buffer) => void): void {
  if (s.device) splitAddrs(s.device.chunkAddrs).forEach((a) => f(a));
}

/** The entries of a state that events changed (memory pages, disk blocks, the device) since {@link clear}. */
class DirtySlots {
  private readonly memory = new Set<number>();
  private readonly disks = new Map<string, Set<number>>();
  private device = false;

  constructor(private readonly state: VmState) {}

  /** Notes the entries `ev` sets (after the state accepted it, so its disk exists). */
  note(ev: Event): void {
    if (ev.body === 'pages') for (const pfn of (ev.pages as ttj.v1.PageBatch).pfns) this.memory.add(pfn);
    else if (ev.body === 'device') this.device = true;
    else if (ev.body === 'diskWrite') {
      const w = ev.diskWrite as ttj.v1.DiskWrite;
      let s = this.disks.get(w.disk);
      if (!s) this.disks.set(w.disk, (s = new Set()));
      const first = Number(w.offset) / this.state.disks.get(w.disk)!.blockSize;
      for (const b of w.blocks) s.add(first + b);
    }
  }

  /** Each noted entry's address in the state now. */
  forEach(f: (a: Buffer) => void): void {
    for (const pfn of this.memory) f(this.state.memory!.get(pfn));
    for (const [name, blocks] of this.disks) {
      const t = this.state.disks.get(name)!.table;
      for (const b of blocks) f(t.get(b));
    }
    if (this.device) deviceChunks(this.state, f);
  }

  clear(): void {
    this.memory.clear();
    this.disks.clear();
    this.device = false;
  }
}
