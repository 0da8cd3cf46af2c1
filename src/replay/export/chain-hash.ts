import { ErrorCodes, TtjError } from '../../errors.js';
import { eventHash } from '../../journal/codec.js';
import type { Journal } from '../../journal/journal.js';

/**
 * The hash chain at `seq`: the hex SHA-256 of the stored event there (what the next
 * event's `prev_hash` carries; the head's is `ttj log`'s `head.hash`).
 * @throws TtjError CORRUPT_STORE when the event is not stored.
 */
export async function chainHashAt(j: Journal, seq: number): Promise<string> {
  for await (const batch of j.storedEvents(seq, seq + 1)) {
    const e = batch.find((b) => b.seq === seq);
    if (e) return eventHash(e.bytes).toString('hex');
  }
  throw new TtjError(ErrorCodes.CORRUPT_STORE, `event ${seq} is not stored`, { seq });
}
