/**
 * `ttj push --follow` mirroring a live `ttj nbd` into a PostgreSQL journal: qemu-io
 * writes the disk of a directory journal through `ttj nbd` while the push follows it
 * into a throwaway PostgreSQL cluster; once both are done the copy is the source, byte
 * for byte.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { verify } from '../../src/journal/verify.js';
import { assertSameEvents } from '../helpers/journal-copies.js';
import { startVictim, type Victim } from '../helpers/kill-child.js';
import { run } from '../helpers/run-process.js';
import { ttj, ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { foldDisk, withJournal } from '../helpers/with-journal.js';
import { usePgCluster } from '../helpers/pg-cluster.js';

/** The head seq of the journal at `location` (-1 when there is none yet), read while others write it. */
const headOf = (location: string) => withJournal(location, async (j) => (await j.storeHead())?.seq ?? -1).catch(() => -1);

/** Sends SIGINT to a child and requires a clean exit. */
async function interrupt(v: Victim, what: string): Promise<void> {
  v.child.kill('SIGINT');
  const { code } = await v.exited;
  assert.equal(code, 0, `${what} exits 0 on SIGINT: ${v.err()}`);
}

describe('ttj push --follow of a live ttj nbd into PostgreSQL @slow', function () {
  this.timeout(240000);
  const tmp = useTmp();
  const pg = usePgCluster();

  it('mirrors the writes qemu-io makes while they land; stopped after catching up, the copy holds the same events, verifies deep and folds to the same disk', async () => {
    const src = tmp.path('src.ttj');
    const dest = pg().url('follow-nbd');
    const img = tmp.path('disk.img');
    writeFileSync(img, Buffer.alloc(8 << 20));
    assert.equal(ttj(['append', src, '--disk', `d0=${img}`]).status, 0);
    const sock = tmp.path('nbd.sock');
    const server = startVictim(process.execPath, [ttjBin, 'nbd', src, '--disk', 'd0', '--socket', sock]);
    const follower = startVictim(process.execPath, [ttjBin, 'push', src, dest, '--follow', '--json']);
    try {
      await waitFor(() => existsSync(sock), 30000, 'ttj nbd to listen');
      const first = await headOf(src);
      await waitFor(async () => (await headOf(dest)) === first, 60000, 'the first catch-up');

      // 40 writes of 64 KiB, 100 ms apart: each is journaled by ttj nbd before qemu-io sees it acknowledged.
      const REGION = 64 * 1024;
      const WRITES = 40;
      const cmds = Array.from({ length: WRITES }, (_, i) => ['-c', `write -P ${1 + i} ${i * 3 * REGION} ${REGION}`, '-c', 'sleep 100']).flat();
      const client = run('qemu-io', ['-f', 'raw', ...cmds, `nbd+unix:///d0?socket=${sock}`], 120_000);
      let writing = true;
      void client.finally(() => (writing = false));
      const seen = new Set<number>();
      while (writing) {
        seen.add(await headOf(dest));
        await sleep(100);
      }
      const c = await client;
      assert.equal(c.code, 0, c.stderr + c.stdout);
      assert.equal([...c.stdout.matchAll(/wrote 65536\/65536 bytes/g)].length, WRITES, c.stdout);
      assert.ok(seen.size >= 4, `the copy moved while qemu-io wrote (heads seen: ${[...seen].sort((a, b) => a - b).join(', ')})`);

      const last = await headOf(src);
      assert.ok(last >= first + WRITES, `every write is a commit in the source (head ${first} → ${last})`);
      await waitFor(async () => (await headOf(dest)) === last, 60000, 'the copy to catch up');
      await interrupt(follower, 'the follower');
      const r = JSON.parse(follower.out());
      assert.equal(r.head.seq, last);
      assert.ok(r.follow.commits >= 2, `commits mirrored as they landed: ${r.follow.commits}`);
      assert.ok(r.follow.maxLagMs < 30000, `lag ${r.follow.maxLagMs} ms`);
      await interrupt(server, 'ttj nbd');

      await assertSameEvents(src, dest);
      await withJournal(dest, async (j) => assert.equal((await verify(j, { deep: true })).ok, true));
      const a = await foldDisk(src, 'head', tmp.path('fold-src'), 'd0');
      const b = await foldDisk(dest, 'head', tmp.path('fold-dest'), 'd0');
      assert.ok(b.equals(a), 'the copy folds to the same disk');
      for (let i = 0; i < WRITES; i++) assert.ok(b.subarray(i * 3 * REGION, (i * 3 + 1) * REGION).equals(Buffer.alloc(REGION, 1 + i)), `write ${i} is in the copy`);
    } finally {
      for (const v of [follower, server]) if (v.child.exitCode === null && v.child.signalCode === null) v.child.kill('SIGKILL');
    }
  });
});
