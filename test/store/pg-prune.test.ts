/**
 * A prune of a journal in PostgreSQL: the same prune as in the embedded store (a prune
 * event, the blobs no kept point needs removed in one transaction under the journal's row
 * lock, block rows with no blob left deleted, then VACUUM). Kept points fold as before,
 * dropped ones fail with TTJ_PRUNED, verify --deep passes. What is measured of the space:
 * the bytes of the `ttj_block` rows of the journal (`sum(length(data))`) go down; the
 * tables' files (`pg_total_relation_size`) do not shrink after a plain VACUUM (their free
 * space is reused by later appends), which the test shows by appending again.
 */
import assert from 'node:assert/strict';
import { ErrorCodes } from '../../src/errors.js';
import { prune } from '../../src/journal/prune.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { usePgCluster } from '../helpers/pg-cluster.js';
import { appendPruningEpochs, buildPruningJournal, everyPoint, foldPoints } from '../helpers/pruning-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

describe('prune of a journal in PostgreSQL @slow', function () {
  this.timeout(300000);
  const tmp = useTmp();
  const pg = usePgCluster();

  it('keep-last 4: kept points fold as before, dropped ones fail with TTJ_PRUNED, verify --deep passes, block bytes go down and the freed table space is reused', async () => {
    const U = pg().url('pruned');
    await buildPruningJournal(U, tmp.dir, { epochs: 20 });
    const points = (await everyPoint(U)).filter((p, i) => !p.startsWith('seq:') || i % 4 === 0);
    const before = await foldPoints(U, tmp.dir, points);
    const blockBytes = async () => Number((await pg().sql<{ n: string }>('SELECT coalesce(sum(length(data)), 0) AS n FROM ttj_block'))[0]!.n);
    const tableBytes = async () => Number((await pg().sql<{ n: string }>("SELECT pg_total_relation_size('ttj_block') AS n"))[0]!.n);
    const b0 = await blockBytes();
    const w = await JournalWriter.openWriter(U, { create: false });
    let r;
    try {
      r = await prune(w, { policy: { keepLast: 4 } });
    } finally {
      await w.close();
    }
    assert.ok(r.collected!.removed.blobs > 0);
    assert.ok(r.collected!.compacted.removed > 0, JSON.stringify(r.collected));
    const after = await foldPoints(U, tmp.dir, points);
    let pruned = 0;
    for (const [at, was] of before) {
      const now = after.get(at);
      if (now === ErrorCodes.PRUNED) pruned++;
      else assert.deepEqual(now, was, at);
    }
    assert.ok(pruned > 0);
    const v = await withJournal(U, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    const b1 = await blockBytes();
    assert.ok(b1 < b0 * 0.8, `block bytes ${b0} -> ${b1}`);
    // The space VACUUM freed is reused: appending as much again grows the table less than the first time.
    const t1 = await tableBytes();
    const w2 = await JournalWriter.openWriter(U, { create: false });
    try {
      await appendPruningEpochs(w2, tmp.dir, 20, 4, { epochs: 24 });
    } finally {
      await w2.close();
    }
    const t2 = await tableBytes();
    assert.ok(t2 - t1 < b0 - b1, `the table grew by ${t2 - t1} bytes for new blocks, with ${b0 - b1} bytes freed`);
  });
});
