/**
 * `ttj prune`: drops old epochs to a retention policy and gives their space back
 * (docs/format.md, "Pruned history"; docs/architecture.md, "Retention").
 *
 * 1. Plan ({@link prunePlan}): the epochs the policy drops among those still kept.
 * 2. Record: one `prune` event listing them, appended by the writer like any batch
 *    (atomic; from then on their points fail with PRUNED, and verify knows their blobs
 *    may be gone). Nothing already appended is rewritten.
 * 3. Collect ({@link collectGarbage}): the blobs no kept point needs (as the plan's walk
 *    found them; a prune that drops nothing new works them out from all prune events)
 *    are removed in the writer's turn (blobs that events appended after the plan name
 *    again are kept), then the store compacts. Both steps are derived from the events
 *    alone, so a prune interrupted at any instant is finished by running it (or any
 *    prune) again.
 *
 * In a live writer (`ttj prune` asks it) the walk over the events gives the event loop
 * back every few milliseconds, so the writer's appends go on meanwhile.
 */
import { decodeEvent } from './codec.js';
import { namedBlobs } from './blob-needs.js';
import type { CompactResult, RemovedBlobs } from '../store/store.js';
import { planWithBlobs, unreferencedBlobs, type PrunePlan, type PrunePlanOptions, type Unreferenced } from './prune-plan.js';
import type { JournalWriter } from './writer.js';

/** Options of {@link prune}. */
export interface PruneOptions extends PrunePlanOptions {
  /** Called with the blobs to remove once they are worked out, before they are removed (tests interleave appends there). */
  beforeRemove?: (addrs: Buffer[]) => Promise<void> | void;
}

/** What a garbage collection did. */
export interface GarbageCollection {
  /** Blobs no kept point needs, as the plan found them (some may be gone already). */
  candidates: number;
  removed: RemovedBlobs;
  compacted: CompactResult;
}

/** `ttj prune --json`: the plan, and what was done. */
export interface PruneResult extends PrunePlan {
  /** Seq of the prune event appended (undefined: nothing new was dropped). */
  pruneSeq?: number;
  /** The garbage collection (undefined for a dry run, {@link prunePlan}). */
  collected?: GarbageCollection;
  /** Set when the live writer of the journal ran the prune for this process: its pid. */
  ranBy?: { pid: number };
}

/**
 * Prunes the journal `w` writes to `opts.policy` (see the module comment).
 * @throws TtjError BAD_ARGUMENT (the policy), BAD_POINT, POINT_NOT_FOUND, CORRUPT_* (a damaged journal).
 */
export async function prune(w: JournalWriter, opts: PruneOptions): Promise<PruneResult> {
  const { plan, unreferenced } = await planWithBlobs(w, opts);
  const dropped = plan.epochs.filter((e) => !e.keep).map((e) => e.epoch);
  let pruneSeq: number | undefined;
  if (dropped.length) {
    const { keepLabels, ...rest } = opts.policy;
    const policy = JSON.stringify({ ...rest, keepLabels, forkPoints: opts.forkPoints });
    pruneSeq = (await w.commit([{ prune: { epochs: dropped, policy } }])).lastSeq;
  }
  // What the plan's walk found unreferenced is what the prune event just recorded drops.
  const collected = await collectGarbage(w, opts.beforeRemove, dropped.length ? unreferenced : undefined);
  return { ...plan, dryRun: false, pruneSeq, collected };
}

/**
 * Removes the blobs no kept point needs (after every prune event stored) and compacts
 * the store. Idempotent: it only finishes what the prune events decided (also a push's
 * destination, after prune events arrived: src/journal/push.ts). `found`: those
 * blobs as the plan of the prune event just appended found them (else the events are walked).
 * @throws TtjError CORRUPT_* (a damaged journal).
 */
export async function collectGarbage(w: JournalWriter, beforeRemove?: PruneOptions['beforeRemove'], found?: Unreferenced): Promise<GarbageCollection> {
  const { addrs, planHead } = found ?? (await walkUnreferenced(w));
  await beforeRemove?.(addrs);
  const removed = await w.removeBlobs(addrs, { planHead, named: (e) => namedBlobs(decodeEvent(e.bytes, e.seq), e.seq) });
  const compacted = await w.compactStore();
  return { candidates: addrs.length, removed, compacted };
}

/** The blobs no kept point needs after every prune event stored (one walk over the events). */
async function walkUnreferenced(w: JournalWriter): Promise<Unreferenced> {
  const pruned = new Set<number>();
  for await (const p of w.prunedEpochs()) pruned.add(p.epoch);
  const last = await w.lastEpoch();
  const keep = Array.from({ length: (last?.epoch ?? -1) + 1 }, (_, n) => !pruned.has(n));
  return pruned.size ? unreferencedBlobs(w, keep) : { addrs: [], planHead: w.headSeqNumber };
}
