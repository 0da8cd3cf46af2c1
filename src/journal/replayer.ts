import { ErrorCodes, TtjError } from '../errors.js';
import { buf, decodeEvent, eventHash, type Event } from './codec.js';
import type { VmState } from './vm-state.js';

/** A commit met while replaying, after its state root was checked. */
export interface ReplayedCommit {
  epoch: number;
  seq: number;
  timeUs: number;
  stateRoot: Buffer;
}

/**
 * Moves a state forward over stored events, checking as it goes: sequence numbers,
 * the hash chain, and each epoch's state root. Memory and device events take
 * effect at their epoch's commit; disk events at once (so `seq:N` folds disks exactly).
 */
export class Replayer {
  private pending: { ev: Event; seq: number }[] | undefined;
  lastCommit: ReplayedCommit | undefined;
  count = 0;

  constructor(
    readonly state: VmState,
    private prev: Buffer,
    private nextSeq: number,
  ) {}

  /** Hash of the last event fed. */
  get lastHash(): Buffer {
    return this.prev;
  }

  /** Applies the stored event `seq`; returns it decoded. */
  feed(seq: number, bytes: Buffer): Event {
    const ev = decodeEvent(bytes, seq);
    if (seq !== this.nextSeq || Number(ev.seq) !== seq) {
      throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} carries seq ${Number(ev.seq)}, expected ${this.nextSeq}`, { seq, expected: this.nextSeq, actual: Number(ev.seq) });
    }
    if (!buf(ev.prevHash).equals(this.prev)) {
      // Event seq-1 does not hash to what its successor recorded: it (or the link) was changed.
      throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq - 1} does not match the hash recorded by event ${seq}: the hash chain is broken`, {
        seq: seq - 1,
        expected: buf(ev.prevHash).toString('hex'),
        actual: this.prev.toString('hex'),
      });
    }
    this.prev = eventHash(bytes);
    this.nextSeq++;
    this.count++;
    switch (ev.body) {
      case 'epochBegin':
        if (this.pending) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} begins an epoch inside another`, { seq });
        this.pending = [];
        break;
      case 'memoryLayout':
      case 'pages':
      case 'device':
        if (this.pending) this.pending.push({ ev, seq });
        else throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq}: ${ev.body} outside an epoch`, { seq });
        break;
      case 'diskCreate':
      case 'diskWrite':
        this.state.apply(ev, seq);
        break;
      case 'epochCommit': {
        if (!this.pending) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} commits an epoch that was not begun`, { seq });
        for (const p of this.pending) this.state.apply(p.ev, p.seq);
        this.pending = undefined;
        const c = ev.epochCommit!;
        const root = buf(c.stateRoot);
        const actual = this.state.root();
        if (!actual.equals(root)) {
          throw new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, `epoch ${Number(c.epoch)} does not fold to its state root`, {
            seq,
            expected: root.toString('hex'),
            actual: actual.toString('hex'),
          });
        }
        this.lastCommit = { epoch: Number(c.epoch), seq, timeUs: Number(ev.timeUs), stateRoot: Buffer.from(root) };
        break;
      }
      case 'header':
        if (seq !== 0) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} is a second header`, { seq });
        break;
      default:
        break;
    }
    return ev;
  }
}
