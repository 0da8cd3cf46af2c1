/**
 * `ttj record` refuses what it cannot do before it changes anything: an epoch interval or
 * frame rate out of range (TTJ_BAD_ARGUMENT, exit 2), a kernel that is not there, a QEMU
 * that does not start. A record that fails before its first epoch leaves no journal behind
 * when it created one, and an existing journal as it was.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { record } from '../../src/capture/record.js';
import { restore } from '../../src/replay/restore.js';
import { Journal } from '../../src/journal/journal.js';
import { log } from '../../src/journal/log.js';
import { verify } from '../../src/journal/verify.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { ttjAsync } from '../helpers/run-ttj.js';
import { useShmTmp } from '../helpers/tmp.js';

/**
 * What a journal holds: its events as `ttj log` lists them, and the bytes of its marker
 * and pack files (the LevelDB index rewrites its own housekeeping files on every open).
 */
async function contents(dir: string): Promise<unknown> {
  const j = await Journal.open(dir);
  const events = await log(j).finally(() => j.close());
  const files = [
    'ttj-journal.json',
    ...readdirSync(join(dir, 'packs'))
      .sort()
      .map((f) => join('packs', f)),
  ];
  return {
    events,
    files: Object.fromEntries(
      files.map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex'),
      ]),
    ),
  };
}

describe('record: bad input is refused, and a failed record leaves no journal behind @slow', function () {
  this.timeout(60000);
  const tmp = useShmTmp();

  it('--fps -1 and --interval 1ms (and the other ends of their ranges) → TTJ_BAD_ARGUMENT, exit 2, no journal', async () => {
    for (const bad of [
      ['--fps', '-1'],
      ['--interval', '1ms'],
    ]) {
      const r = await ttjAsync('record', tmp.path('vm.ttj'), '--memory', '32M', '--duration', '1s', ...bad, '--json');
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json.error.code, ErrorCodes.BAD_ARGUMENT);
      assert.equal(existsSync(tmp.path('vm.ttj')), false, `${bad.join(' ')} left a journal`);
    }
    for (const opts of [{ fps: 31 }, { fps: 1.5 }, { intervalMs: 49 }, { intervalMs: 25 * 3600 * 1000 }]) {
      await assert.rejects(record(tmp.path('vm.ttj'), { memorySize: 32 << 20, durationMs: 1000, ...opts }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT), JSON.stringify(opts));
      assert.equal(existsSync(tmp.path('vm.ttj')), false);
    }
    // The same bounds for a restore that keeps recording into a fork (checked before anything is read).
    await assert.rejects(restore(tmp.path('none.ttj'), { at: 'head', fork: tmp.path('fork.ttj'), fps: -1 }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    assert.equal(existsSync(tmp.path('fork.ttj')), false);
  });

  it('a kernel that is not there, or QEMU refusing to start → the error, and no journal directory', async () => {
    const J = tmp.path('vm.ttj');
    await assert.rejects(record(J, { memorySize: 32 << 20, kernel: tmp.path('no-vmlinuz'), durationMs: 1000 }), (e) => isTtjError(e, ErrorCodes.FILE_NOT_FOUND));
    assert.equal(existsSync(J), false);
    await assert.rejects(record(J, { memorySize: 32 << 20, extraArgs: ['-no-such-option'], durationMs: 1000 }), (e) => isTtjError(e, ErrorCodes.QEMU_FAILED) && /no-such-option/.test(String(e.details.stderr)));
    assert.equal(existsSync(J), false);
    const cli = await ttjAsync('record', J, '--memory', '1T', '--duration', '1s', '--json');
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.equal(cli.json.error.code, ErrorCodes.QEMU_FAILED);
    assert.ok(cli.json.error.stderr, 'with QEMU stderr');
    assert.equal(existsSync(J), false);
  });

  it('an existing journal stays as it was when the record fails before its first epoch', async () => {
    const J = tmp.path('vm.ttj');
    writeFileSync(tmp.path('m.raw'), Buffer.alloc(32 << 20, 1));
    const made = await ttjAsync('append', J, '--memory', tmp.path('m.raw'), '--label', 'before', '--json');
    assert.equal(made.code, 0, made.stderr);
    const before = await contents(J);
    await assert.rejects(record(J, { memorySize: 32 << 20, extraArgs: ['-no-such-option'], durationMs: 1000 }), (e) => isTtjError(e, ErrorCodes.QEMU_FAILED));
    // A new disk is imported only once QEMU runs.
    await assert.rejects(record(J, { memorySize: 32 << 20, disks: [{ name: 'boot', path: ensureBootSectorGuest() }], extraArgs: ['-no-such-option'], durationMs: 1000 }), (e) => isTtjError(e, ErrorCodes.QEMU_FAILED));
    await assert.rejects(record(J, { memorySize: 32 << 20, kernel: tmp.path('no-vmlinuz'), durationMs: 1000 }), (e) => isTtjError(e, ErrorCodes.FILE_NOT_FOUND));
    await assert.rejects(record(J, { memorySize: 32 << 20, intervalMs: 1, durationMs: 1000 }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    assert.deepEqual(await contents(J), before);
    const j = await Journal.open(J);
    assert.equal((await verify(j, { deep: true }).finally(() => j.close())).ok, true);
  });
});
