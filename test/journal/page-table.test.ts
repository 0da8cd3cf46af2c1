import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { CHUNK_ENTRIES, PageTable } from '../../src/journal/page-table.js';
import { ADDR_LEN, sha256, ZERO_ADDR } from '../../src/util/hash.js';

/** A content address standing for page content `n`. */
const addr = (n: number) => sha256(Buffer.from(`page ${n}`));

describe('PageTable: content addresses per page and their Merkle root', function () {
  it('starts all zero; set, get, isZero, setZero and nonZero agree', () => {
    const t = new PageTable(10);
    assert.equal(t.nonZero(), 0);
    assert.ok(t.get(3).equals(ZERO_ADDR));
    t.set(3, addr(1));
    t.set(9, addr(2));
    assert.ok(t.get(3).equals(addr(1)));
    assert.ok(t.get(9).equals(addr(2)));
    assert.equal(t.isZero(3), false);
    assert.equal(t.isZero(4), true);
    assert.equal(t.nonZero(), 2);
    t.setZero(3);
    assert.equal(t.isZero(3), true);
    assert.equal(t.nonZero(), 1);
  });

  it('the root is SHA-256 of the chunk hashes, each SHA-256 of its 32-byte entries (docs/format.md)', () => {
    const count = CHUNK_ENTRIES + 5; // two chunks, the second short
    const t = new PageTable(count);
    t.set(0, addr(0));
    t.set(count - 1, addr(1));
    assert.equal(t.chunkCount, 2);
    assert.equal(t.chunk(0).length, CHUNK_ENTRIES * ADDR_LEN);
    assert.equal(t.chunk(1).length, 5 * ADDR_LEN);
    const c0 = sha256(t.entries.subarray(0, CHUNK_ENTRIES * ADDR_LEN));
    const c1 = sha256(t.entries.subarray(CHUNK_ENTRIES * ADDR_LEN));
    assert.ok(t.chunkHash(0).equals(c0));
    assert.ok(t.chunkHash(1).equals(c1));
    assert.ok(t.root().equals(createHash('sha256').update(c0).update(c1).digest()));
  });

  it('the root changes when one page changes and comes back when the page is restored (only the touched chunk is re-hashed)', () => {
    const t = new PageTable(3 * CHUNK_ENTRIES);
    for (let i = 0; i < t.count; i += 7) t.set(i, addr(i));
    const root0 = t.root();
    const chunk2 = Buffer.from(t.chunkHash(2));
    const before = Buffer.from(t.get(CHUNK_ENTRIES + 1));
    t.set(CHUNK_ENTRIES + 1, addr(-1));
    const root1 = t.root();
    assert.ok(!root1.equals(root0), 'one changed page changes the root');
    assert.ok(t.chunkHash(2).equals(chunk2), 'an untouched chunk keeps its hash');
    t.set(CHUNK_ENTRIES + 1, before);
    assert.ok(t.root().equals(root0), 'restoring the page restores the root');
    // Zeroing a page is a change too, and setting zero where it was zero is not.
    t.setZero(0);
    assert.ok(!t.root().equals(root0));
    t.set(0, addr(0));
    t.setZero(1);
    assert.ok(t.root().equals(root0));
  });

  it('the root depends on where a page is, not only on what it holds', () => {
    const a = new PageTable(8);
    const b = new PageTable(8);
    a.set(2, addr(5));
    b.set(3, addr(5));
    assert.ok(!a.root().equals(b.root()));
    assert.ok(!new PageTable(8).root().equals(new PageTable(9).root()), 'nor only on the non-zero pages: the size counts');
  });

  it('rollback undoes every change since startUndo, in reverse, and the root with them; dropUndo keeps them', () => {
    const t = new PageTable(2 * CHUNK_ENTRIES);
    t.set(1, addr(1));
    const root0 = t.root();
    t.startUndo();
    t.set(1, addr(2));
    t.set(1, addr(3)); // the same page twice: the oldest value must win
    t.set(CHUNK_ENTRIES, addr(4));
    t.setZero(1);
    t.rollback();
    assert.ok(t.get(1).equals(addr(1)));
    assert.ok(t.isZero(CHUNK_ENTRIES));
    assert.ok(t.root().equals(root0));
    t.rollback(); // nothing recorded: a no-op
    assert.ok(t.root().equals(root0));
    t.startUndo();
    t.set(5, addr(5));
    t.dropUndo();
    t.rollback();
    assert.ok(t.get(5).equals(addr(5)), 'dropped undo keeps the change');
  });

  it('clone is a copy: changing one leaves the other and its root alone', () => {
    const t = new PageTable(100);
    t.set(7, addr(7));
    const root = t.root();
    const c = t.clone();
    assert.ok(c.root().equals(root));
    c.set(8, addr(8));
    t.setZero(7);
    assert.ok(c.get(7).equals(addr(7)));
    assert.ok(t.isZero(8));
    assert.ok(!c.root().equals(root));
    t.set(7, addr(7));
    assert.ok(t.root().equals(root));
  });

  it('fromChunks rebuilds a table from its chunk blobs with the same root, and refuses chunks of the wrong total size with CORRUPT_BLOB', () => {
    const count = 2 * CHUNK_ENTRIES + 3;
    const t = new PageTable(count);
    for (let i = 0; i < count; i += 11) t.set(i, addr(i));
    const chunks = Array.from({ length: t.chunkCount }, (_, c) => Buffer.from(t.chunk(c)));
    const back = PageTable.fromChunks(count, chunks);
    assert.ok(back.root().equals(t.root()));
    assert.equal(back.nonZero(), t.nonZero());
    assert.throws(
      () => PageTable.fromChunks(count + 1, chunks),
      (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB),
    );
    assert.throws(
      () => PageTable.fromChunks(count, chunks.slice(0, 2)),
      (e) => isTtjError(e, ErrorCodes.CORRUPT_BLOB),
    );
  });
});
