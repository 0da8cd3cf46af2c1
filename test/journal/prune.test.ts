import assert from 'node:assert/strict';
import { ErrorCodes } from '../../src/errors.js';
import { prune } from '../../src/journal/prune.js';
import type { RetentionPolicy } from '../../src/journal/retention-policy.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { buildPruningJournal, dirBytes, everyPoint, foldPoints, type Folded } from '../helpers/pruning-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

async function pruneJournal(dir: string, policy: RetentionPolicy) {
  const w = await JournalWriter.openWriter(dir, { create: false });
  try {
    return await prune(w, { policy });
  } finally {
    await w.close();
  }
}

/** Every point folds as before, or (when it needs a dropped epoch) fails with TTJ_PRUNED. */
function compareFolds(before: Map<string, Folded | string>, after: Map<string, Folded | string>, dropped: Set<number>): { kept: number; pruned: number } {
  let kept = 0;
  let pruned = 0;
  for (const [at, was] of before) {
    const now = after.get(at);
    if (now === ErrorCodes.PRUNED) {
      pruned++;
      continue;
    }
    assert.deepEqual(now, was, `${at} folds differently after the prune`);
    kept++;
  }
  assert.ok(dropped.size === 0 || pruned > 0);
  return { kept, pruned };
}

describe('prune: dropped epochs, kept points fold as before, space given back (embedded store)', function () {
  this.timeout(300000);
  const tmp = useTmp();

  it('keep-last 5 of 24 (labelled epoch 3 kept): every kept epoch, frame and seq folds to the same bytes; dropped ones fail with TTJ_PRUNED; verify --deep passes and names the prune; the directory shrinks', async () => {
    const J = tmp.path('j');
    await buildPruningJournal(J, tmp.dir, { epochs: 24, labels: { 3: 'keep me' } });
    const points = await everyPoint(J);
    const before = await foldPoints(J, tmp.dir, points);
    const bytesBefore = dirBytes(J);
    const r = await pruneJournal(J, { keepLast: 5 });
    const dropped = new Set(r.epochs.filter((e) => !e.keep).map((e) => e.epoch));
    assert.deepEqual([...dropped], [0, 1, 2, ...Array.from({ length: 15 }, (_, i) => i + 4)]);
    assert.ok(r.pruneSeq !== undefined);
    assert.ok(r.collected!.removed.blobs > 0);
    const after = await foldPoints(J, tmp.dir, points);
    const c = compareFolds(before, after, dropped);
    assert.equal(after.get('epoch:3') !== ErrorCodes.PRUNED, true);
    assert.equal(after.get('epoch:10'), ErrorCodes.PRUNED);
    assert.ok(c.kept >= 6, `${c.kept} kept points`);
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    assert.deepEqual(v.pruned?.map((p) => p.epochs), [[...dropped]]);
    const bytesAfter = dirBytes(J);
    assert.ok(bytesAfter < bytesBefore * 0.6, `${bytesBefore} -> ${bytesAfter} bytes`);
  });
});
