/**
 * A prune is crash-safe: `ttj prune` killed with SIGKILL at random instants (while it
 * records, removes blobs or compacts pack files) leaves a journal that verifies
 * (--deep) and folds every point as before, or refuses it with TTJ_PRUNED once the
 * prune event is stored; run again, the prune finishes the job: the same points are
 * pruned as by a prune never interrupted, and as much space is given back. The instants
 * come from TTJ_CRASH_SEED (printed on failure), else from the clock.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from '../../src/errors.js';
import { verify } from '../../src/journal/verify.js';
import { LOCK_FILE } from '../../src/store/writer-lock.js';
import { rng } from '../helpers/images.js';
import { killUnlessDone, startVictim } from '../helpers/kill-child.js';
import { buildPruningJournal, dirBytes, everyPoint, foldPoints } from '../helpers/pruning-journal.js';
import { ttj, ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait-for.js';
import { withJournal } from '../helpers/with-journal.js';

const SEED = Number(process.env.TTJ_CRASH_SEED ?? Date.now() % 100000);
const POLICY = ['--keep-last', '4', '--no-keep-labelled'];

/** The pid named in the journal's writer lock, if any. */
function lockHolder(dir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

describe('prune killed with SIGKILL at random instants @slow', function () {
  this.timeout(900000);
  const tmp = useTmp();

  it('after every kill the journal verifies and every point folds as before (or is pruned); a rerun ends as an uninterrupted prune does', async () => {
    const pristine = tmp.path('pristine');
    await buildPruningJournal(pristine, tmp.dir, { epochs: 30, labels: { 2: 'old' } });
    const all = await everyPoint(pristine);
    // Epochs, frames and every third seq: enough to cover each stretch of history.
    const points = all.filter((p, i) => !p.startsWith('seq:') || i % 3 === 0);
    const before = await foldPoints(pristine, tmp.dir, points);

    // The reference: a prune that is not interrupted (also how long one takes).
    const ref = tmp.path('ref');
    cpSync(pristine, ref, { recursive: true });
    const full = startVictim(process.execPath, [ttjBin, 'prune', ref, ...POLICY]);
    while (lockHolder(ref) !== full.child.pid && full.child.exitCode === null) await sleep(2);
    const t0 = Date.now();
    while (full.child.exitCode === null) await sleep(2);
    const fullMs = Date.now() - t0;
    assert.equal(full.child.exitCode, 0, full.err());
    const expected = await foldPoints(ref, tmp.dir, points);
    const refBytes = dirBytes(ref);
    assert.ok(refBytes < dirBytes(pristine) * 0.7, `${dirBytes(pristine)} -> ${refBytes}`);

    const r = rng(SEED);
    const seed = `TTJ_CRASH_SEED=${SEED}`;
    let kills = 0;
    for (let round = 0; round < 10 && kills < 6; round++) {
      const J = tmp.path(`j${round}`);
      rmSync(J, { recursive: true, force: true });
      cpSync(pristine, J, { recursive: true });
      const v = startVictim(process.execPath, [ttjBin, 'prune', J, ...POLICY]);
      // The instant counts from when the prune holds the writer lock, not from Node's start-up.
      while (lockHolder(J) !== v.child.pid && v.child.exitCode === null) await sleep(2);
      const ms = r() % Math.max(20, fullMs);
      await sleep(ms);
      if (!(await killUnlessDone(v))) continue; // it finished before the kill
      kills++;
      const what = `round ${round}, killed after ${ms} ms (${seed})`;
      const rep = await withJournal(J, (j) => verify(j, { deep: true }));
      assert.equal(rep.ok, true, `${what}: ${JSON.stringify(rep.error)}`);
      const now = await foldPoints(J, tmp.dir, points);
      for (const [at, was] of before) {
        const got = now.get(at);
        if (got !== ErrorCodes.PRUNED) assert.deepEqual(got, was, `${what}: ${at}`);
        else assert.equal(expected.get(at), ErrorCodes.PRUNED, `${what}: ${at} is pruned, the policy keeps it`);
      }
      const again = ttj(['prune', J, ...POLICY, '--json']);
      assert.equal(again.status, 0, `${what}: ${again.stderr}`);
      assert.deepEqual(await foldPoints(J, tmp.dir, points), expected, what);
      const rep2 = await withJournal(J, (j) => verify(j, { deep: true }));
      assert.equal(rep2.ok, true, `${what}: ${JSON.stringify(rep2.error)}`);
      assert.ok(dirBytes(J) <= refBytes * 1.15, `${what}: ${dirBytes(J)} bytes, an uninterrupted prune leaves ${refBytes}`);
    }
    assert.ok(kills >= 3, `${kills} kills landed during a prune (${seed})`);
  });
});
