/**
 * The bases of small writes (src/capture/block-bases.ts): a block's content is given
 * only under the address it was kept or read for, the least recently used blocks go
 * first, reads asked for in one turn are one store call, and a failed read gives none.
 */
import assert from 'node:assert/strict';
import { BlockBases } from '../../src/capture/block-bases.js';

const BS = 16;
const addr = (n: number) => Buffer.alloc(32, n);
const block = (n: number) => Buffer.alloc(BS, n);

/** A store of blobs named by {@link addr}: blob `n` is {@link block}(n); counts calls. */
function store(fail = false) {
  const calls: number[][] = [];
  const read = async (addrs: Buffer[]) => {
    calls.push(addrs.map((a) => a[0]!));
    await new Promise((r) => setTimeout(r, 5));
    if (fail) throw new Error('read failed');
    return Buffer.concat(addrs.map((a) => block(a[0]!)));
  };
  return { calls, read };
}

describe('BlockBases', () => {
  it('gives a kept block only under its address, least recently used dropped first', () => {
    const s = store();
    const b = new BlockBases(BS, s.read, 2 * BS);
    b.remember(1, addr(11), block(11));
    b.remember(2, addr(12), block(12));
    assert.equal(b.take(1, addr(99)), undefined, 'another content of block 1');
    assert.deepEqual(b.take(1, addr(11)), block(11));
    // Block 2 is now the least recently used: a third block drops it.
    b.remember(3, addr(13), block(13));
    assert.equal(b.take(2, addr(12)), undefined);
    assert.deepEqual(b.take(1, addr(11)), block(11));
    assert.deepEqual(b.take(3, addr(13)), block(13));
    // A new content of a block replaces the old one.
    b.remember(1, addr(21), block(21));
    assert.equal(b.take(1, addr(11)), undefined);
    assert.deepEqual(b.take(1, addr(21)), block(21));
    assert.equal(s.calls.length, 0);
  });

  it('reads the blocks asked for in one turn with one call, and keeps them', async () => {
    const s = store();
    const b = new BlockBases(BS, s.read, 8 * BS);
    b.prefetch(1, addr(11));
    b.prefetch(2, addr(12));
    b.prefetch(1, addr(11)); // already under way: not read twice
    const p = b.take(2, addr(12));
    assert.ok(p instanceof Promise);
    assert.deepEqual(await p, block(12));
    assert.deepEqual(s.calls, [[11, 12]]);
    // Kept: a later take needs no read, nor does a prefetch of the same content.
    assert.deepEqual(b.take(1, addr(11)), block(11));
    b.prefetch(1, addr(11));
    await new Promise((r) => setImmediate(r));
    assert.equal(s.calls.length, 1);
  });

  it('does not keep a read whose block was written meanwhile', async () => {
    const s = store();
    const b = new BlockBases(BS, s.read, 8 * BS);
    b.prefetch(1, addr(11));
    const p = b.take(1, addr(11));
    b.remember(1, addr(21), block(21));
    assert.deepEqual(await p, block(11), 'who took the read still gets what it asked for');
    assert.equal(b.take(1, addr(11)), undefined);
    assert.deepEqual(b.take(1, addr(21)), block(21));
  });

  it('a failed read gives no content (the caller reads itself) and is not kept', async () => {
    const s = store(true);
    const b = new BlockBases(BS, s.read, 8 * BS);
    b.prefetch(1, addr(11));
    assert.equal(await b.take(1, addr(11)), undefined);
    assert.equal(b.take(1, addr(11)), undefined);
  });

  it('keeps nothing with no room (a read-only device)', () => {
    const b = new BlockBases(BS, store().read, 0);
    b.remember(1, addr(11), block(11));
    assert.equal(b.take(1, addr(11)), undefined);
  });
});
