/**
 * Push is resumable: `ttj push` killed with SIGKILL at random instants leaves the
 * destination verifying (--deep), ending at a commit (never a half-sent epoch), a
 * prefix of the source; run again, it completes, and the copy holds the source's
 * events byte for byte and folds every epoch the same. The instants come from
 * TTJ_CRASH_SEED (printed on failure), else from the clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE } from '../../src/store/writer-lock.js';
import { decodeEvent } from '../../src/journal/codec.js';
import { verify } from '../../src/journal/verify.js';
import { rng } from '../helpers/images.js';
import { appendLoopEpochs, assertSameEvents, assertSameFolds, storedEvents } from '../helpers/journal-copies.js';
import { killHard, startVictim } from '../helpers/kill-child.js';
import { sleep } from '../helpers/wait-for.js';
import { ttj, ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

/** The pid named in the destination's writer lock (the embedded store's lock file), if any. */
function lockHolder(dir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

const SEED = Number(process.env.TTJ_CRASH_SEED ?? Date.now() % 100000);
const EPOCHS = 150;

describe('push killed with SIGKILL at random instants @slow', function () {
  this.timeout(600000);
  const tmp = useTmp();

  it('the destination verifies after every kill and ends at a commit; a rerun completes with the same events and folds', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, EPOCHS);
    const srcEvents = await storedEvents(src);
    const r = rng(SEED);
    const seed = `TTJ_CRASH_SEED=${SEED}`;
    let kills = 0;
    let lastHead = -1;
    const heads: number[] = [];
    const midHeads = () => new Set(heads.filter((h) => h > 0 && h < srcEvents.length - 1)).size;
    // Six kills, and more (up to 40 rounds) while they have left fewer than two different commits (a loaded machine is slow to get going).
    for (let round = 0; round < 40 && (kills < 6 || midHeads() < 2); round++) {
      const ms = r() % 300;
      // Small batches: one epoch each, so that a kill lands between many appends.
      const v = startVictim(process.execPath, [ttjBin, 'push', src, dest, '--batch-blobs', '16']);
      // The instant counts from when the push holds the destination's writer lock, not from Node's start-up.
      while (lockHolder(dest) !== v.child.pid && v.child.exitCode === null) await sleep(5);
      await sleep(ms);
      if (v.child.exitCode !== null) {
        assert.equal(v.child.exitCode, 0, `round ${round} (${seed}): ${v.err()}`);
        break; // it finished before the kill
      }
      await killHard(v);
      kills++;
      if (!existsSync(dest)) continue;
      const head = await withJournal(dest, async (j) => {
        const rep = await verify(j, { deep: true });
        assert.equal(rep.ok, true, `round ${round}, killed after ${ms} ms (${seed}): ${JSON.stringify(rep.error)}`);
        return (await j.storeHead())?.seq ?? -1;
      });
      if (head < 0) continue; // killed as the store was made, before its header
      const got = await storedEvents(dest);
      got.forEach((e, i) => assert.ok(e.equals(srcEvents[i]!), `round ${round} (${seed}): event ${i} is the source's`));
      const body = decodeEvent(got[head]!, head).body;
      assert.ok(head === 0 || body === 'epochCommit', `round ${round} (${seed}): the head (seq ${head}) is a commit, not ${body}`);
      assert.ok(head >= lastHead, `round ${round}: the head went back from ${lastHead} to ${head}`);
      lastHead = head;
      heads.push(head);
    }
    assert.ok(kills >= 3, `${kills} kills landed during a push (${seed})`);
    assert.ok(midHeads() >= 2, `the kills left copies at different commits: ${heads.join(', ')} (${seed})`);
    const done = ttj(['push', src, dest, '--json']);
    assert.equal(done.status, 0, done.stderr);
    assert.equal(done.json.commonSeq, lastHead);
    assert.equal(done.json.head.seq, srcEvents.length - 1);
    await assertSameEvents(src, dest);
    await withJournal(dest, async (j) => {
      const rep = await verify(j, { deep: true });
      assert.equal(rep.ok, true, JSON.stringify(rep.error));
    });
    await assertSameFolds(src, dest, tmp.path('o'));
  });
});
