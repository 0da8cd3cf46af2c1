/** Removing blobs from the embedded store (a prune's removal): a patch that stays keeps its base; a journal without patches is not scanned for them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/store/open-store.js';
import { sha256 } from '../../src/util/hash.js';
import { useTmp } from '../helpers/tmp.js';

const features = (dir: string): string[] => JSON.parse(readFileSync(join(dir, 'ttj-journal.json'), 'utf8')).features ?? [];

describe('removing blobs (embedded store)', () => {
  const tmp = useTmp();

  it('a blob stored as a patch that stays keeps its base; without it both go; a journal with no patch removes as asked', async () => {
    const base = Buffer.alloc(4096, 1);
    const patched = Buffer.from(base).fill(2, 100, 200);
    const other = Buffer.alloc(4096, 3);
    const J = tmp.path('j');
    const store = await openStore(J, { create: true });
    try {
      await store.append({ expectedHead: -1, events: [Buffer.from('0')], blobs: [{ addr: sha256(base), data: base }] });
      assert.ok(!features(J).includes('patches'), 'no patch yet');
      await store.append({ expectedHead: 0, events: [Buffer.from('1')], blobs: [{ addr: sha256(patched), data: patched, patch: { base: sha256(base), at: 100, length: 100 } }] });
      assert.ok(features(J).includes('patches'), 'stored as a patch');
      const kept = await store.removeBlobs([sha256(base)], { planHead: 1, named: () => [] });
      assert.deepEqual([kept.blobs, kept.spared], [0, 1], 'the base of a patch that stays is spared');
      assert.ok((await store.getBlobs([sha256(patched)]))[0]!.equals(patched));
      const both = await store.removeBlobs([sha256(base), sha256(patched)], { planHead: 1, named: () => [] });
      assert.deepEqual([both.blobs, both.spared], [2, 0]);
      assert.deepEqual(await store.hasBlobs([sha256(base), sha256(patched)]), [false, false]);
    } finally {
      await store.close();
    }
    const P = tmp.path('plain');
    const plain = await openStore(P, { create: true });
    try {
      await plain.append({ expectedHead: -1, events: [Buffer.from('0')], blobs: [base, other].map((data) => ({ addr: sha256(data), data })) });
      assert.ok(!features(P).includes('patches'));
      const r = await plain.removeBlobs([sha256(base)], { planHead: 0, named: () => [] });
      assert.deepEqual([r.blobs, r.spared], [1, 0]);
      assert.deepEqual(await plain.hasBlobs([sha256(base), sha256(other)]), [false, true]);
    } finally {
      await plain.close();
    }
  });
});
