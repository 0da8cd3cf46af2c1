import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verify } from '../../src/journal/verify.js';
import { appendLoopEpochs, assertSameEvents, assertSameFolds } from '../helpers/journal-copies.js';
import { startVictim } from '../helpers/kill-child.js';
import { sleep } from '../helpers/wait-for.js';
import { ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const loop = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'append-loop.js');

/** The head seq of the journal at `dir` (read while others write it). */
const headOf = (dir: string) => withJournal(dir, async (j) => (await j.storeHead())?.seq ?? -1);

/** Waits until `f` holds, polling; fails after `ms`. */
async function until(f: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

describe('ttj push --follow', function () {
  this.timeout(180000);
  const tmp = useTmp();

  it('mirrors each commit of a live appender as it lands, reports the lag, and ends cleanly on SIGINT', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 1);
    const follower = startVictim(process.execPath, [ttjBin, 'push', src, dest, '--follow', '--json']);
    try {
      await until(async () => (await headOf(dest).catch(() => -1)) === (await headOf(src)), 60000, 'the first catch-up');
      // Another process appends 6 epochs, one every 300 ms, while the push follows.
      const appender = startVictim(process.execPath, [loop, src, '6', '300']);
      const seen = new Set<number>();
      for (;;) {
        seen.add(await headOf(dest));
        if (appender.child.exitCode !== null) break;
        await sleep(50);
      }
      assert.equal((await appender.exited).code, 0, appender.err());
      const srcHead = await headOf(src);
      await until(async () => (await headOf(dest)) === srcHead, 30000, 'the mirror caught up');
      assert.ok(seen.size >= 3, `the mirror moved while the source was written (heads seen: ${[...seen].join(', ')})`);
    } finally {
      follower.child.kill('SIGINT');
    }
    const { code } = await follower.exited;
    assert.equal(code, 0, follower.err());
    const r = JSON.parse(follower.out());
    assert.ok(r.follow.commits >= 2 && r.follow.commits <= 6, `commits mirrored one by one: ${r.follow.commits}`);
    assert.equal(typeof r.follow.lastLagMs, 'number');
    assert.ok(r.follow.maxLagMs >= r.follow.lastLagMs && r.follow.maxLagMs < 30000, `lag ${r.follow.maxLagMs} ms`);
    assert.equal(r.head.seq, await headOf(src));
    await assertSameEvents(src, dest);
    await withJournal(dest, async (j) => assert.equal((await verify(j, { deep: true })).ok, true));
    await assertSameFolds(src, dest, tmp.path('o'));
  });

  it('without --json, reports each mirrored commit and its lag on stderr', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 1);
    const follower = startVictim(process.execPath, [ttjBin, 'push', src, dest, '--follow']);
    try {
      await until(async () => (await headOf(dest).catch(() => -1)) === (await headOf(src)), 60000, 'the first catch-up');
      await appendLoopEpochs(src, 1, 2);
      await until(async () => /mirrored seq \d+\.\.\d+ \(\d+ events behind, \d+ ms after the source's commit\)/.test(follower.err()), 30000, 'a lag line');
    } finally {
      follower.child.kill('SIGTERM');
    }
    assert.equal((await follower.exited).code, 0, follower.err());
    assert.match(follower.out(), /followed 1 commits/);
  });
});
