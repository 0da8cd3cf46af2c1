import { ErrorCodes, TtjError } from '../errors.js';
import type { Event } from './codec.js';

/**
 * `ttj verify`'s check of label events (docs/format.md, "Labels"): a label names an epoch
 * committed before it (or, as the writer binds one without `chosen`, the epoch open
 * around it); a chosen epoch is one committed and not pruned before the label, and the
 * label comes between epochs. Fed every event in stream order.
 */
export class LabelCheck {
  private open: number | undefined;
  private lastCommitted = -1;
  private readonly pruned = new Set<number>();

  /** @throws TtjError CORRUPT_EVENT for a label that names an epoch it may not. */
  feed(seq: number, ev: Event): void {
    switch (ev.body) {
      case 'epochBegin':
        this.open = Number(ev.epochBegin!.epoch ?? 0);
        return;
      case 'epochCommit':
        this.lastCommitted = Number(ev.epochCommit!.epoch ?? 0);
        this.open = undefined;
        return;
      case 'prune':
        for (const e of ev.prune!.epochs ?? []) this.pruned.add(Number(e));
        return;
      case 'label':
        return this.label(seq, ev);
      default:
        return;
    }
  }

  private label(seq: number, ev: Event): void {
    const l = ev.label!;
    const epoch = Number(l.epoch ?? 0);
    const bad = (why: string) => new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} labels epoch ${epoch}, ${why}`, { seq });
    if (!l.chosen) {
      const bound = this.open ?? this.lastCommitted;
      if (epoch !== bound) throw bad(bound < 0 ? 'but no epoch is committed before it' : `but a label the writer binds names epoch ${bound} there`);
      return;
    }
    if (this.open !== undefined) throw bad(`a chosen epoch, inside epoch ${this.open}`);
    if (epoch > this.lastCommitted) throw bad(`which is not committed before it (the last is ${this.lastCommitted})`);
    if (this.pruned.has(epoch)) throw bad('which a prune before it dropped');
  }
}
