/**
 * A journal's stored events cut into batches for push: each ends outside an epoch (an
 * epoch is never split between two appends), with the blobs its events name. In a pruned
 * journal, a batch that holds history a prune dropped (whose blobs may be gone) runs on to
 * that prune event, so the destination gets the two in one append and never holds events
 * whose missing blobs nothing explains (docs/format.md, "Pruned history").
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { StoredEvent } from '../store/store.js';
import { namedBlobs } from './blob-needs.js';
import { decodeEvent } from './codec.js';
import type { Journal } from './journal.js';

/** One batch: whole epochs (and the events between them), and the blobs they name. */
export interface PushBatch {
  events: StoredEvent[];
  /** Every blob address the events name (repeats included). */
  addrs: Buffer[];
}

/** How big a batch grows before it is cut at the next epoch boundary. */
export interface BatchLimits {
  /** Blob addresses named. Default 8192. */
  blobs?: number;
  /** Events. Default 4096. */
  events?: number;
}

/**
 * The seq of the prune event that dropped each epoch of `src`.
 */
export async function droppedBy(src: Journal): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for await (const p of src.prunedEpochs()) m.set(p.epoch, p.seq);
  return m;
}

/**
 * The events of `src` with `from <= seq <= to`, in batches cut where no epoch is open
 * once a batch reaches a limit (an epoch larger than the limits is one batch), and not
 * before the prune event that dropped history the batch holds (`dropped`: each dropped
 * epoch's prune event seq, {@link droppedBy}; `to` must reach them).
 * @throws TtjError CORRUPT_EVENT when the events end inside an epoch.
 */
export async function* pushBatches(src: Journal, from: number, to: number, limits: BatchLimits = {}, dropped: ReadonlyMap<number, number> = new Map()): AsyncIterable<PushBatch> {
  const maxBlobs = limits.blobs ?? 8192;
  const maxEvents = limits.events ?? 4096;
  let batch: PushBatch = { events: [], addrs: [] };
  let open = false;
  // The epoch whose commit closes the stretch of history the events are in, and the prune event the batch must reach.
  let next = dropped.size ? ((await src.epochAtOrBeforeSeq(from - 1))?.epoch ?? -1) + 1 : 0;
  let hold = -1;
  const holdFor = (epochs: number[]) => {
    for (const n of epochs) hold = Math.max(hold, dropped.get(n) ?? -1);
  };
  for await (const part of src.storedEvents(from, to + 1)) {
    for (const e of part) {
      const ev = decodeEvent(e.bytes, e.seq);
      if (ev.body === 'epochBegin') {
        open = true;
        next = Number(ev.epochBegin!.epoch);
      } else if (ev.body === 'epochCommit') {
        open = false;
        next = Number(ev.epochCommit!.epoch) + 1;
      }
      batch.events.push(e);
      const named = namedBlobs(ev, e.seq);
      for (const a of named) batch.addrs.push(a);
      if (named.length && dropped.size) {
        if (ev.body === 'frame') holdFor([Number(ev.frame!.epoch)]);
        else if (ev.body === 'audio') holdFor([Number(ev.audio!.epoch)]);
        else holdFor([next - 1, next]);
      }
      if (!open && e.seq >= hold && (batch.addrs.length >= maxBlobs || batch.events.length >= maxEvents)) {
        yield batch;
        batch = { events: [], addrs: [] };
      }
    }
  }
  if (open) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `the events of ${src.location} up to seq ${to} end inside an epoch`, { seq: to });
  if (batch.events.length) yield batch;
}
