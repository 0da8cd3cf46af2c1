/**
 * Points in pruned history (docs/format.md, "Pruned history"): a point folds the memory
 * and device of its epoch and the disks as the events up to its seq left them, so it
 * needs its epoch, and, past that epoch's commit, the stretch of events up to the next
 * commit, which a prune keeps only when the next epoch is kept too.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { Journal } from './journal.js';
import type { ResolvedPoint } from './point.js';

/**
 * Refuses a point that needs an epoch a prune dropped.
 * @throws TtjError PRUNED naming the epoch and the prune that dropped it.
 */
export async function refusePruned(j: Journal, p: ResolvedPoint): Promise<void> {
  const needs = p.epoch >= 0 ? [p.epoch] : [];
  // Disk events after the commit belong to the stretch the next epoch's commit closes.
  if (p.seq > p.epochSeq) needs.push(p.epoch + 1);
  for (const n of needs) {
    const dropped = await j.pruned(n);
    if (dropped) {
      throw new TtjError(ErrorCodes.PRUNED, `${p.point}: epoch ${n} was pruned at ${dropped.time} (event ${dropped.seq}); its content is gone`, {
        point: p.point,
        epoch: n,
        seq: dropped.seq,
        time: dropped.time,
      });
    }
  }
}
