/**
 * The README's "A short tour" (record, restore, nbd) as a user runs it: CLI subprocesses
 * on a journal recorded like the demo's (`--console`, so the recorded VM has a serial
 * port), with exit codes and JSON asserted. The boot-sector guest stands in for the
 * demo's Linux guest (which takes long to boot under TCG).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { QmpClient } from '../../src/capture/qemu/qmp-client.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { runOk } from '../helpers/run-process.js';
import { freePort } from '../../src/util/free-port.js';
import { startTtj, ttjAsync } from '../helpers/run-ttj.js';
import { useShmTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

describe('README tour: record --console, restore (--at, --paused --detach --json, --fork), nbd (live, --at --read-only) @slow', function () {
  this.timeout(120000);
  const tmp = useShmTmp();
  let image: string;
  before(() => {
    image = ensureBootSectorGuest();
  });

  it('every tour line exits 0 with its JSON on a journal recorded with --console', async () => {
    const J = tmp.path('vm.ttj');
    const rec = await ttjAsync('record', J, '--memory', '32M', '--disk', `boot=${image}`, '--interval', '250ms', '--fps', '4', '--duration', '2s', '--console', tmp.path('record-console.txt'), '--json');
    assert.equal(rec.code, 0, rec.stderr + rec.stdout);
    assert.equal(rec.json.stoppedBy, 'duration');
    assert.ok(rec.json.epochs >= 2 && rec.json.frames >= rec.json.epochs, rec.stdout);

    const log = await ttjAsync('log', J, '--json');
    assert.equal(log.code, 0, log.stderr);
    const frame = log.json.frames[Math.floor(log.json.frames.length / 2)].frame as number;
    const epoch = log.json.epochs[Math.floor(log.json.epochs.length / 2)].epoch as number;

    // ttj restore vm.ttj --at frame:N: the VM runs on (--duration ends it here), its console
    // to a file as the demo restores it.
    const run = await ttjAsync('restore', J, '--at', `frame:${frame}`, '--console', tmp.path('restore-console.txt'), '--duration', '500ms', '--json');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(run.json.point, `frame:${frame}`);
    assert.equal(run.json.frame, frame);
    assert.deepEqual(run.json.exit, { code: 0, signal: null });
    assert.ok(existsSync(tmp.path('restore-console.txt')));

    // ttj restore vm.ttj --at frame:N --paused --detach --json → {"pid": ..., "qmp": "..."}, without
    // --console: the recorded serial port is there all the same.
    const det = await ttjAsync('restore', J, '--at', `frame:${frame}`, '--paused', '--detach', '--json');
    assert.equal(det.code, 0, det.stderr + det.stdout);
    assert.ok(det.json.pid > 0 && det.json.qmp, det.stdout);
    const qmp = await QmpClient.connect(det.json.qmp);
    try {
      assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'paused');
      await qmp.execute('quit').catch(() => undefined);
    } finally {
      qmp.close();
      try {
        process.kill(det.json.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }

    // ttj restore vm.ttj --at epoch:K --fork vm2.ttj (the fork keeps recording; --duration ends it)
    const J2 = tmp.path('vm2.ttj');
    const fork = await ttjAsync('restore', J, '--at', `epoch:${epoch}`, '--fork', J2, '--duration', '500ms', '--interval', '250ms', '--fps', '0', '--json');
    assert.equal(fork.code, 0, fork.stderr + fork.stdout);
    assert.equal(fork.json.fork, J2);
    assert.equal(fork.json.epoch, epoch);
    assert.ok(fork.json.recorded.epochs >= 1, fork.stdout);
    const v2 = await ttjAsync('verify', J2, '--json');
    assert.equal(v2.code, 0, v2.stderr + v2.stdout);
    assert.equal(v2.json.ok, true);

    // ttj nbd vm.ttj --disk boot --socket S (every write journaled before it is acked)
    const sock = tmp.path('boot.sock');
    const live = startTtj(['nbd', J, '--disk', 'boot', '--socket', sock, '--json']);
    await waitFor(() => existsSync(sock), 30000, 'the NBD socket');
    await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 4096 4096', `nbd+unix:///boot?socket=${sock}`]);
    const liveEnd = await live.stop();
    assert.equal(liveEnd.code, 0, liveEnd.stderr + liveEnd.stdout);
    assert.equal(liveEnd.json.disk, 'boot');
    assert.ok(liveEnd.json.writes >= 1, liveEnd.stdout);

    // ttj nbd vm.ttj --disk boot --at frame:N --read-only --port P (the disk as it was then)
    const port = await freePort();
    const past = startTtj(['nbd', J, '--disk', 'boot', '--at', `frame:${frame}`, '--read-only', '--port', String(port), '--json']);
    const url = `nbd://127.0.0.1:${port}/boot`;
    await waitFor(
      () =>
        runOk('qemu-io', ['-r', '-f', 'raw', '-c', 'read 0 512', url]).then(
          () => true,
          () => false,
        ),
      30000,
      `${url} to serve`,
    );
    const read = await runOk('qemu-io', ['-r', '-f', 'raw', '-c', 'read -v 510 2', url]);
    assert.match(read.stdout, /55 aa/, 'the boot sector as recorded');
    const pastEnd = await past.stop();
    assert.equal(pastEnd.code, 0, pastEnd.stderr + pastEnd.stdout);
    assert.equal(pastEnd.json.readOnly, true);
    assert.equal(pastEnd.json.at, `frame:${frame}`);

    // The journal verifies after all of it.
    const v = await ttjAsync('verify', J, '--deep', '--json');
    assert.equal(v.code, 0, v.stderr + v.stdout);
  });
});
