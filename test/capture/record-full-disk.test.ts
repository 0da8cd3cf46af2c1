import assert from 'node:assert/strict';
import { rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { record } from '../../src/capture/record.js';
import { Journal } from '../../src/journal/journal.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { fillDisk, mountTmpfs } from '../helpers/mounts.js';
import { useTmp } from '../helpers/tmp.js';
import { tmpDir } from '../helpers/tmp.js';

describe('ttj record on a file system that fills up @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();
  let fs = '';
  let umount: (() => void) | undefined;
  beforeEach(() => {
    fs = tmpDir('ttj-tmpfs-');
    umount = mountTmpfs(fs, 64 * 1024 * 1024);
  });
  afterEach(() => {
    umount?.();
    rmdirSync(fs);
  });

  for (const [what, intervalMs] of [
    ['the next epoch finds the disk full', 200],
    ["the guest's disk writes find it full first (QEMU stops the guest; its capture fails)", 1500],
  ] as const)
    it(`stops with TTJ_NO_SPACE, and the journal keeps every committed epoch and verifies: ${what}`, async () => {
      const J = join(fs, 'vm.ttj');
      const filler = join(fs, 'filler');
      const image = ensureBootSectorGuest();
      let err: unknown;
      await record(J, {
        memorySize: 32 << 20,
        disks: [{ name: 'boot', path: image }],
        intervalMs,
        fps: 2,
        durationMs: 30000,
        // Filled once two epochs are in (not after a time: a busy machine may not have committed one by then).
        onEpoch: (e) => {
          if (e.epoch === 1) fillDisk(filler);
        },
      }).catch((e: unknown) => (err = e));
      assert.ok(isTtjError(err), `record failed with ${String(err)}`);
      assert.equal(err.code, ErrorCodes.NO_SPACE, err.message);
      rmSync(filler);
      const j = await Journal.open(J);
      try {
        assert.equal((await verify(j, { deep: true })).ok, true);
        const head = await j.head();
        assert.ok(head.epoch >= 1, `epochs were committed before the disk filled up (head epoch ${head.epoch})`);
        const m = await fold(j, { at: 'head', out: tmp.path('o') });
        assert.equal(m.epoch, head.epoch);
      } finally {
        await j.close();
      }
    });
});
