import { ErrorCodes, TtjError } from '../errors.js';
import { ZERO_ADDR } from '../util/hash.js';
import { buf, decodeEvent, eventHash } from './codec.js';
import { Replayer } from './replayer.js';
import type { Journal } from './journal.js';
import { VmState } from './vm-state.js';

/** The VM state (as content addresses) at a stream position, proven on the way. */
export interface StateAt {
  state: VmState;
  /** The last epoch committed at or before the position, if any. */
  epoch?: { epoch: number; seq: number; timeUs: number; stateRoot: Buffer };
  /** Events replayed after the keyframe (fold cost beyond the state size). */
  replayed: number;
  /** Seq of the keyframe the fold started from (-1: from the start). */
  keyframeSeq: number;
  /** Hash of the event at the position (what the next event's `prev_hash` is): to replay on from there. */
  lastHash: Buffer;
}

/**
 * The state at `target`: memory and device as of the last epoch committed at or
 * before it, disks exactly at `target`. Starts from the nearest keyframe and
 * replays the events since, checking their hash chain and every state root met.
 * @throws TtjError CORRUPT_EVENT, STATE_ROOT_MISMATCH, CORRUPT_BLOB.
 */
export async function stateAt(j: Journal, target: number): Promise<StateAt> {
  const kf = await j.keyframeAtOrBefore(target);
  if (kf && !(kf.seq <= target)) throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: the keyframe entry before seq ${target} names seq ${kf.seq}`, { seq: kf.seq });
  let state: VmState;
  let from: number;
  let prev: Buffer;
  let epoch: StateAt['epoch'];
  if (kf) {
    let commitBytes: Buffer | undefined;
    for await (const b of j.storedEvents(kf.seq, kf.seq + 1)) commitBytes = b[0]?.bytes;
    const ev = decodeEvent(commitBytes!, kf.seq);
    if (ev.body !== 'epochCommit' || buf(ev.epochCommit!.keyframe).toString('hex') !== kf.addr) {
      throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: its keyframe entry of epoch ${kf.epoch} does not match event ${kf.seq}`, { seq: kf.seq });
    }
    state = await VmState.fromKeyframe((a: Buffer[]) => j.blobs(a), Buffer.from(kf.addr, 'hex'));
    const root = buf(ev.epochCommit!.stateRoot);
    const actual = state.root();
    if (!actual.equals(root)) {
      throw new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, `the keyframe of epoch ${kf.epoch} does not match its state root`, {
        seq: kf.seq,
        expected: root.toString('hex'),
        actual: actual.toString('hex'),
      });
    }
    epoch = { epoch: Number(ev.epochCommit!.epoch), seq: kf.seq, timeUs: Number(ev.timeUs), stateRoot: root };
    from = kf.seq + 1;
    prev = eventHash(commitBytes!);
  } else {
    state = new VmState(j.pageSize);
    from = 0;
    prev = ZERO_ADDR;
  }
  const r = new Replayer(state, prev, from);
  for await (const batch of j.storedEvents(from, target + 1)) {
    for (const { seq, bytes } of batch) r.feed(seq, bytes);
  }
  if (r.lastCommit) epoch = r.lastCommit;
  const replayed = r.count;
  return { state, epoch, replayed, keyframeSeq: kf ? kf.seq : -1, lastHash: r.lastHash };
}
