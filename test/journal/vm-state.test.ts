import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { decodeEvent, encodeEvent, type Event, type IEvent } from '../../src/journal/codec.js';
import { VmState } from '../../src/journal/vm-state.js';
import { sha256, ZERO_ADDR } from '../../src/util/hash.js';

const PAGE = 4096;
/** An event as stored and read back (the body oneof set). */
const ev = (e: IEvent): Event => decodeEvent(encodeEvent(e));
const addr = (n: number) => sha256(Buffer.from(`content ${n}`));
const addrs = (...ns: number[]) => Buffer.concat(ns.map(addr));
const corrupt = (seq: number) => (e: unknown) => isTtjError(e, ErrorCodes.CORRUPT_EVENT) && e.details.seq === seq;

/** A state with 16 pages of memory and a disk `d` of 4 blocks plus a short last block (the block size is the page size). */
function state(): VmState {
  const s = new VmState(PAGE);
  s.apply(ev({ memoryLayout: { size: 16 * PAGE } }), 1);
  s.apply(ev({ diskCreate: { name: 'd', size: 4 * PAGE + 512 } }), 2);
  return s;
}

describe('VmState: applying events to the state', function () {
  it('memory layout, pages and zero pages set the memory table', () => {
    const s = state();
    assert.equal(s.memorySize, 16 * PAGE);
    assert.equal(s.memory!.count, 16);
    s.apply(ev({ pages: { pfns: [0, 15], addrs: addrs(1, 2) } }), 3);
    assert.ok(s.memory!.get(0).equals(addr(1)));
    assert.ok(s.memory!.get(15).equals(addr(2)));
    s.apply(ev({ pages: { pfns: [], addrs: Buffer.alloc(0), zeroPfns: [15] } }), 4);
    assert.ok(s.memory!.isZero(15));
    assert.equal(s.memory!.nonZero(), 1);
  });

  it('disk writes set blocks relative to their offset, up to a short last block', () => {
    const s = state();
    const d = s.disks.get('d')!;
    assert.deepEqual([d.size, d.blockSize, d.table.count], [4 * PAGE + 512, PAGE, 5]);
    s.apply(ev({ diskWrite: { disk: 'd', offset: 2 * PAGE, length: 2 * PAGE + 512, blocks: [0, 2], addrs: addrs(7, 8), zeroBlocks: [1] } }), 3);
    assert.ok(d.table.get(2).equals(addr(7)));
    assert.ok(d.table.isZero(3));
    assert.ok(d.table.get(4).equals(addr(8)));
    assert.equal(d.table.nonZero(), 2);
  });

  it('the state root changes with a page, a disk block and the device state, and comes back when the page is restored', () => {
    const s = state();
    const r0 = s.root();
    s.apply(ev({ pages: { pfns: [4], addrs: addrs(1) } }), 3);
    const r1 = s.root();
    assert.ok(!r1.equals(r0));
    s.apply(ev({ pages: { pfns: [], addrs: Buffer.alloc(0), zeroPfns: [4] } }), 4);
    assert.ok(s.root().equals(r0), 'the page zero again: the root of before');
    s.apply(ev({ diskWrite: { disk: 'd', offset: 0, length: PAGE, blocks: [0], addrs: addrs(2) } }), 5);
    const r2 = s.root();
    assert.ok(!r2.equals(r0));
    const content = sha256(Buffer.from('device'));
    s.apply(ev({ device: { length: 10, chunkSize: 8, chunkAddrs: addrs(3, 4), contentHash: content } }), 6);
    assert.ok(!s.root().equals(r2));
    assert.ok(s.device!.contentHash.equals(content));
  });

  it('a transaction rolled back leaves the state (and its root) as it was, new disks and device included', () => {
    const s = state();
    s.apply(ev({ pages: { pfns: [1], addrs: addrs(1) } }), 3);
    const root = s.root();
    const tx = s.begin();
    s.apply(ev({ pages: { pfns: [1, 2], addrs: addrs(5, 6) } }), 4);
    s.apply(ev({ diskCreate: { name: 'e', size: PAGE } }), 5);
    s.apply(ev({ diskWrite: { disk: 'd', offset: 0, length: PAGE, blocks: [0], addrs: addrs(9) } }), 6);
    s.apply(ev({ device: { length: 1, chunkSize: 8, chunkAddrs: addrs(3), contentHash: addr(3) } }), 7);
    tx.rollback();
    assert.ok(s.root().equals(root));
    assert.equal(s.disks.has('e'), false);
    assert.equal(s.device, undefined);
    assert.ok(s.memory!.get(1).equals(addr(1)));
  });

  it('a clone moves on alone', () => {
    const s = state();
    const c = s.clone();
    c.apply(ev({ pages: { pfns: [1], addrs: addrs(1) } }), 3);
    c.apply(ev({ diskWrite: { disk: 'd', offset: 0, length: PAGE, blocks: [0], addrs: addrs(2) } }), 4);
    assert.ok(s.root().equals(state().root()));
    assert.ok(!c.root().equals(s.root()));
  });

  it('a keyframe loads back to the same state root', async () => {
    const s = state();
    s.apply(ev({ pages: { pfns: [3, 9], addrs: addrs(1, 2) } }), 3);
    s.apply(ev({ diskWrite: { disk: 'd', offset: 4 * PAGE, length: 512, blocks: [0], addrs: addrs(3) } }), 4);
    s.apply(ev({ device: { length: 20, chunkSize: 16, chunkAddrs: addrs(4, 5), contentHash: addr(6) } }), 5);
    const { addr: kf, blobs } = s.toKeyframe();
    const store = new Map(blobs.map((b) => [b.addr.toString('hex'), Buffer.from(b.data)]));
    for (const b of blobs) assert.ok(sha256(b.data).equals(b.addr), 'every keyframe blob is content-addressed');
    const back = await VmState.fromKeyframe(async (as) => as.map((a) => store.get(a.toString('hex'))!), kf);
    assert.ok(back.root().equals(s.root()));
  });

  it('events that do not fit the state are CORRUPT_EVENT naming their seq, and change nothing', () => {
    const s = state();
    const root = s.root();
    const bad: [string, IEvent][] = [
      ['memory size changes', { memoryLayout: { size: 32 * PAGE } }],
      ['disk exists', { diskCreate: { name: 'd', size: PAGE } }],
      ['bad disk name', { diskCreate: { name: 'a/b', size: PAGE } }],
      ['disk size not sectors', { diskCreate: { name: 'x', size: 1000 } }],
      ['block size not a power of two', { diskCreate: { name: 'x', size: PAGE, blockSize: 3 * PAGE } }],
      ['block size under the page size', { diskCreate: { name: 'x', size: PAGE, blockSize: 512 } }],
      ['pfn beyond memory', { pages: { pfns: [16], addrs: addrs(1) } }],
      ['zero pfn beyond memory', { pages: { pfns: [], addrs: Buffer.alloc(0), zeroPfns: [16] } }],
      ['addresses do not match pfns', { pages: { pfns: [1, 2], addrs: addrs(1) } }],
      ['the zero address stored', { pages: { pfns: [1], addrs: ZERO_ADDR } }],
      ['unknown disk', { diskWrite: { disk: 'nope', offset: 0, length: PAGE, blocks: [0], addrs: addrs(1) } }],
      ['misaligned write', { diskWrite: { disk: 'd', offset: 512, length: PAGE, blocks: [0], addrs: addrs(1) } }],
      ['write past the end', { diskWrite: { disk: 'd', offset: 4 * PAGE, length: PAGE, blocks: [0], addrs: addrs(1) } }],
      ['block outside its write', { diskWrite: { disk: 'd', offset: 0, length: PAGE, blocks: [1], addrs: addrs(1) } }],
      ['malformed device state', { device: { length: 20, chunkSize: 16, chunkAddrs: addrs(1), contentHash: addr(2) } }],
    ];
    for (const [what, e] of bad) assert.throws(() => s.apply(ev(e), 42), corrupt(42), what);
    assert.ok(s.root().equals(root));
    const empty = new VmState(PAGE);
    assert.throws(() => empty.apply(ev({ pages: { pfns: [0], addrs: addrs(1) } }), 7), corrupt(7), 'pages before the memory layout');
    assert.throws(() => empty.apply(ev({ memoryLayout: { size: PAGE + 1 } }), 8), corrupt(8), 'memory not whole pages');
  });
});
