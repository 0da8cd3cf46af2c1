import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { record } from '../../src/capture/record.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { LINUX_APPEND, ensureLinuxGuest } from '../../journal-tools/guests/index.js';
import { useTmp } from '../helpers/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ttj record is bit-exact: every epoch folds to the RAM the guest had (Linux guest) @slow', function () {
  this.timeout(300000);
  const tmp = useTmp();

  it('records the Linux guest booting and running, and each epoch folds to the RAM file as it was while the VM was paused for it', async function () {
    this.timeout(600000);
    const guest = ensureLinuxGuest();
    const J = tmp.path('linux.ttj');
    // The RAM the guest had at each capture: hashed at the resume that ends the epoch's pause.
    const atCapture: string[] = [];
    const enough = new AbortController();
    const r = await record(J, {
      memorySize: 64 << 20,
      kernel: guest.kernel,
      initrd: guest.initrd,
      append: LINUX_APPEND,
      intervalMs: 250,
      fps: 0,
      durationMs: 240000,
      signal: enough.signal,
      onStart: (vm) => {
        const resume = vm.resume.bind(vm);
        vm.resume = () => {
          atCapture.push(sha(readFileSync(vm.ramPath)));
          return resume();
        };
      },
      onEpoch: (e) => {
        if (e.epoch >= 30) enough.abort();
      },
    });
    assert.equal(r.stoppedBy, 'signal');
    assert.equal(atCapture.length, r.epochs, 'one pause per epoch');
    const j = await Journal.open(J);
    try {
      const changed = new Set(atCapture).size;
      assert.ok(changed > r.epochs / 2, `the guest's RAM changed between epochs (${changed} different of ${r.epochs})`);
      for (const [e, want] of atCapture.entries()) {
        const out = tmp.path(`e${e}`);
        await fold(j, { at: `epoch:${e}`, out });
        assert.equal(sha(readFileSync(join(out, 'memory.raw'))), want, `epoch ${e} folds to the RAM of its capture`);
      }
    } finally {
      await j.close();
    }
  });
});
