/**
 * A journal's stored events cut into batches for push: each ends outside an epoch (an
 * epoch is never split between two appends), with the blobs its events name.
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
 * The events of `src` with `from <= seq <= to`, in batches cut where no epoch is open
 * once a batch reaches a limit (an epoch larger than the limits is one batch).
 * @throws TtjError CORRUPT_EVENT when the events end inside an epoch.
 */
export async function* pushBatches(src: Journal, from: number, to: number, limits: BatchLimits = {}): AsyncIterable<PushBatch> {
  const maxBlobs = limits.blobs ?? 8192;
  const maxEvents = limits.events ?? 4096;
  let batch: PushBatch = { events: [], addrs: [] };
  let open = false;
  for await (const part of src.storedEvents(from, to + 1)) {
    for (const e of part) {
      const ev = decodeEvent(e.bytes, e.seq);
      if (ev.body === 'epochBegin') open = true;
      else if (ev.body === 'epochCommit') open = false;
      batch.events.push(e);
      for (const a of namedBlobs(ev, e.seq)) batch.addrs.push(a);
      if (!open && (batch.addrs.length >= maxBlobs || batch.events.length >= maxEvents)) {
        yield batch;
        batch = { events: [], addrs: [] };
      }
    }
  }
  if (open) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `the events of ${src.location} up to seq ${to} end inside an epoch`, { seq: to });
  if (batch.events.length) yield batch;
}
