/**
 * Push and pull of a pruned journal (docs/stores.md, "Push and pull"): every event goes
 * over (the prune events too), and of the blobs only those the source still has; the
 * destination verifies (--deep), lists the same prunes, folds every kept point to the
 * source's bytes and refuses the dropped ones with TTJ_PRUNED. An incremental push after
 * a prune of a source already pushed carries the prune out at the destination too: it
 * ends with exactly the source's blobs. Embedded to embedded (CLI push and pull, small
 * batches so that the history a prune dropped would otherwise be cut from its prune
 * event), and embedded to PostgreSQL.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../src/errors.js';
import { Journal } from '../../src/journal/journal.js';
import { prune } from '../../src/journal/prune.js';
import { push, type PushResult } from '../../src/journal/push.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { assertSameEvents } from '../helpers/journal-copies.js';
import { usePgCluster } from '../helpers/pg-cluster.js';
import { appendPruningEpochs, buildPruningJournal, everyPoint, foldPoints } from '../helpers/pruning-journal.js';
import { ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

/** Prunes the journal at `loc` to keep the `keepLast` newest epochs (and its labelled ones). */
async function pruneTo(loc: string, keepLast: number): Promise<void> {
  const w = await JournalWriter.openWriter(loc, { create: false });
  try {
    const r = await prune(w, { policy: { keepLast } });
    assert.ok(r.collected!.removed.blobs > 0);
  } finally {
    await w.close();
  }
}

/** Appends `n` more epochs of the pruning journal's kind (it has `from` epochs). */
async function appendEpochs(loc: string, work: string, from: number, n: number): Promise<void> {
  const w = await JournalWriter.openWriter(loc, { create: false });
  try {
    await appendPruningEpochs(w, work, from, n, { epochs: from + n });
  } finally {
    await w.close();
  }
}

/** The hex addresses of the blobs a journal stores. */
async function storedBlobs(loc: string): Promise<Set<string>> {
  return withJournal(loc, async (j) => {
    const out = new Set<string>();
    for await (const a of j.listBlobs()) out.add(a.toString('hex'));
    return out;
  });
}

/** The destination verifies deep, lists the source's prunes, and folds every point of the source as the source does (kept: same bytes; dropped: TTJ_PRUNED). */
async function assertSameJournal(src: string, dest: string, work: string): Promise<void> {
  await assertSameEvents(src, dest);
  const vs = await withJournal(src, (j) => verify(j, { deep: true }));
  const vd = await withJournal(dest, (j) => verify(j, { deep: true }));
  assert.equal(vd.ok, true, JSON.stringify(vd.error));
  assert.ok(vs.pruned?.length);
  assert.deepEqual(vd.pruned, vs.pruned);
  const points = (await everyPoint(src)).filter((p, i) => !p.startsWith('seq:') || i % 3 === 0);
  const a = await foldPoints(src, work, points);
  const b = await foldPoints(dest, work, points);
  let pruned = 0;
  for (const [at, was] of a) {
    assert.deepEqual(b.get(at), was, at);
    if (was === ErrorCodes.PRUNED) pruned++;
  }
  assert.ok(pruned > 0 && pruned < a.size, `${pruned} of ${a.size} points pruned`);
}

describe('push and pull of a pruned journal', function () {
  this.timeout(600000);
  const tmp = useTmp();

  it('embedded to embedded: a new destination gets every event and only the blobs that remain; it verifies, lists the same prunes and folds the same; ttj pull too', async () => {
    const S = tmp.path('src');
    await buildPruningJournal(S, tmp.dir, { epochs: 20, labels: { 5: 'kept' } });
    await pruneTo(S, 4);
    const D = tmp.path('dest');
    const r = ttj(['push', S, D, '--batch-blobs', '40', '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.json.prunes, 1);
    // Nothing more was there to remove: only the blobs the source still has went over.
    assert.equal(r.json.collected.removedBlobs, 0);
    const v = ttj(['verify', D, '--deep', '--json']);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.equal(v.json.ok, true);
    await assertSameJournal(S, D, tmp.dir);
    assert.deepEqual(await storedBlobs(D), await storedBlobs(S));
    // ttj pull into a new journal: the same.
    const P = tmp.path('pulled');
    const p = ttj(['pull', P, S, '--json']);
    assert.equal(p.status, 0, p.stdout + p.stderr);
    await assertSameJournal(S, P, tmp.dir);
  });

  it('embedded to embedded, incremental: after the source is pruned (twice) and appended to, a push brings the prunes and the destination removes what they drop, ending with the source blobs', async () => {
    const S = tmp.path('src2');
    await buildPruningJournal(S, tmp.dir, { epochs: 16 });
    const D = tmp.path('dest2');
    const first = await withJournal(S, (j) => push(j, D));
    assert.equal(first.prunes, 0);
    assert.equal(first.collected, undefined);
    const blobsBefore = (await storedBlobs(D)).size;
    await pruneTo(S, 6);
    await appendEpochs(S, tmp.dir, 16, 4);
    await pruneTo(S, 3);
    const r: PushResult = await withJournal(S, (j) => push(j, D, { batch: { blobs: 40 } }));
    assert.equal(r.commonSeq, first.head.seq);
    assert.equal(r.prunes, 2);
    assert.ok(r.collected!.removedBlobs > 0, JSON.stringify(r.collected));
    await assertSameJournal(S, D, tmp.dir);
    const dest = await storedBlobs(D);
    assert.deepEqual(dest, await storedBlobs(S));
    assert.ok(dest.size < blobsBefore, `${blobsBefore} -> ${dest.size} blobs`);
    // Nothing new: a push again sends nothing and removes nothing.
    const again = await withJournal(S, (j) => push(j, D));
    assert.equal(again.events, 0);
    assert.equal(again.prunes, 0);
  });

  describe('embedded to PostgreSQL @slow', () => {
    const pg = usePgCluster();

    it('a pruned journal pushed into PostgreSQL, then pruned again and pushed incrementally: the same events, prunes, folds and blobs', async () => {
      const S = tmp.path('src3');
      await buildPruningJournal(S, tmp.dir, { epochs: 16, labels: { 2: 'kept' } });
      await pruneTo(S, 5);
      const U = pg().url('pushed');
      const r = ttj(['push', S, U, '--batch-blobs', '40', '--json']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.json.prunes, 1);
      await assertSameJournal(S, U, tmp.dir);
      assert.deepEqual(await storedBlobs(U), await storedBlobs(S));
      await appendEpochs(S, tmp.dir, 16, 3);
      await pruneTo(S, 2);
      const r2 = ttj(['push', S, U, '--json']);
      assert.equal(r2.status, 0, r2.stdout + r2.stderr);
      assert.equal(r2.json.prunes, 1);
      assert.ok(r2.json.collected.removedBlobs > 0);
      await assertSameJournal(S, U, tmp.dir);
      assert.deepEqual(await storedBlobs(U), await storedBlobs(S));
    });

    it('PostgreSQL to embedded while the source is pruned again in the middle of the push: the batch that lost its blobs is sent again with the new prune', async () => {
      const U = pg().url('pruned-meanwhile');
      await buildPruningJournal(U, tmp.dir, { epochs: 14 });
      await pruneTo(U, 8);
      await appendEpochs(U, tmp.dir, 14, 4);
      const D = tmp.path('dest4');
      const src = await Journal.open(U);
      let r: PushResult;
      try {
        // The second prune lands (blobs removed) after the push planned its batches, as it looks up the first one's blobs.
        const blobSizes = src.blobSizes.bind(src);
        let pruned = false;
        src.blobSizes = async (addrs) => {
          if (!pruned) {
            pruned = true;
            await pruneTo(U, 3);
          }
          return blobSizes(addrs);
        };
        r = await push(src, D, { batch: { blobs: 40 } });
        assert.equal(pruned, true);
      } finally {
        await src.close();
      }
      assert.equal(r.prunes, 2);
      await assertSameJournal(U, D, tmp.dir);
      assert.deepEqual(await storedBlobs(D), await storedBlobs(U));
    });
  });
});
