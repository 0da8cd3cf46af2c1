import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError, type ErrorCode } from '../../src/errors.js';
import { decodeEvent, encodeEvent, eventHash, type IEvent } from '../../src/journal/codec.js';
import { Replayer } from '../../src/journal/replayer.js';
import { VmState } from '../../src/journal/vm-state.js';
import { sha256, ZERO_ADDR } from '../../src/util/hash.js';

const PAGE = 4096;
const addr = (n: number) => sha256(Buffer.from(`content ${n}`));

/** Stored event bytes for `bodies`, numbered from 0 and hash-chained as the writer chains them. */
function chain(bodies: IEvent[]): Buffer[] {
  let prev = ZERO_ADDR;
  return bodies.map((b, seq) => {
    const bytes = Buffer.from(encodeEvent({ ...b, seq, timeUs: 1000 + seq, prevHash: prev }));
    prev = eventHash(bytes);
    return bytes;
  });
}

/** The state root the epoch that applies `bodies` to the state of `before` commits. */
function rootAfter(before: VmState, bodies: IEvent[]): Buffer {
  const s = before.clone();
  bodies.forEach((b, i) => s.apply(decodeEvent(encodeEvent(b)), i));
  return s.root();
}

const header: IEvent = { header: { formatVersion: 1, pageSize: PAGE } };
const layout: IEvent = { memoryLayout: { size: 4 * PAGE } };
const disk: IEvent = { diskCreate: { name: 'd', size: 2 * PAGE } };
const pages: IEvent = { pages: { pfns: [1], addrs: addr(1) } };
const write: IEvent = { diskWrite: { disk: 'd', offset: PAGE, length: PAGE, blocks: [0], addrs: addr(2) } };

/** A journal's first events: header, a disk, epoch 0 with memory and a page, committed with its true root. */
function firstEpoch(): IEvent[] {
  const root = rootAfter(new VmState(PAGE), [disk, layout, pages]);
  return [header, disk, { epochBegin: { epoch: 0 } }, layout, pages, { epochCommit: { epoch: 0, stateRoot: root, beginSeq: 2 } }];
}

const fails = (code: ErrorCode, seq: number) => (e: unknown) => isTtjError(e, code) && e.details.seq === seq;

describe('Replayer: moving a state over stored events', function () {
  it('applies an epoch at its commit, checks its state root, and records the commit', () => {
    const events = chain(firstEpoch());
    const state = new VmState(PAGE);
    const r = new Replayer(state, ZERO_ADDR, 0);
    events.slice(0, 5).forEach((b, seq) => r.feed(seq, b));
    assert.equal(state.memory, undefined, 'memory events wait for their commit');
    assert.equal(r.lastCommit, undefined);
    r.feed(5, events[5]!);
    assert.ok(state.memory!.get(1).equals(addr(1)));
    const c = r.lastCommit!;
    assert.deepEqual([c.epoch, c.seq, c.timeUs], [0, 5, 1005]);
    assert.ok(c.stateRoot.equals(state.root()));
    assert.equal(r.count, 6);
    assert.ok(r.lastHash.equals(eventHash(events[5]!)));
  });

  it('applies disk writes at once (so seq:N folds disks exactly)', () => {
    const events = chain([...firstEpoch(), write]);
    const state = new VmState(PAGE);
    const r = new Replayer(state, ZERO_ADDR, 0);
    events.forEach((b, seq) => r.feed(seq, b));
    assert.ok(state.disks.get('d')!.table.get(1).equals(addr(2)));
  });

  it('a commit whose state root is not what the events fold to is STATE_ROOT_MISMATCH', () => {
    const bodies = firstEpoch();
    bodies[5] = { epochCommit: { epoch: 0, stateRoot: addr(99), beginSeq: 2 } };
    const events = chain(bodies);
    const r = new Replayer(new VmState(PAGE), ZERO_ADDR, 0);
    events.slice(0, 5).forEach((b, seq) => r.feed(seq, b));
    assert.throws(() => r.feed(5, events[5]!), fails(ErrorCodes.STATE_ROOT_MISMATCH, 5));
  });

  it('a changed event breaks the hash chain at its successor; a gap or a wrong seq is CORRUPT_EVENT', () => {
    const events = chain(firstEpoch());
    const changed = Buffer.from(encodeEvent({ seq: 1, timeUs: 1001, prevHash: eventHash(events[0]!), diskCreate: { name: 'e', size: 2 * PAGE } }));
    const r = new Replayer(new VmState(PAGE), ZERO_ADDR, 0);
    r.feed(0, events[0]!);
    r.feed(1, changed);
    assert.throws(() => r.feed(2, events[2]!), fails(ErrorCodes.CORRUPT_EVENT, 1), 'event 1 no longer hashes to what event 2 recorded');
    const gap = new Replayer(new VmState(PAGE), ZERO_ADDR, 0);
    gap.feed(0, events[0]!);
    assert.throws(() => gap.feed(2, events[2]!), fails(ErrorCodes.CORRUPT_EVENT, 2));
    assert.throws(
      () => new Replayer(new VmState(PAGE), ZERO_ADDR, 1).feed(1, events[0]!),
      (e) => isTtjError(e, ErrorCodes.CORRUPT_EVENT),
      'event 0 fed as seq 1',
    );
  });

  it('refuses epoch structure that does not nest: memory outside an epoch, a begin inside one, a commit without a begin, a second header', () => {
    const cases: [string, IEvent[], number][] = [
      ['pages outside an epoch', [header, pages], 1],
      ['a begin inside an epoch', [header, { epochBegin: { epoch: 0 } }, { epochBegin: { epoch: 1 } }], 2],
      ['a commit without a begin', [header, { epochCommit: { epoch: 0, stateRoot: addr(0) } }], 1],
      ['a second header', [header, header], 1],
    ];
    for (const [what, bodies, at] of cases) {
      const events = chain(bodies);
      const r = new Replayer(new VmState(PAGE), ZERO_ADDR, 0);
      events.slice(0, at).forEach((b, seq) => r.feed(seq, b));
      assert.throws(() => r.feed(at, events[at]!), fails(ErrorCodes.CORRUPT_EVENT, at), what);
    }
  });
});
