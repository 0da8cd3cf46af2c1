/**
 * `ttj record --sign-with`: a live QEMU guest (the boot-sector guest) recorded with a
 * key; every epoch commit is signed (its disk writes over NBD too), verify --trust
 * accepts the journal and log names the signer of every epoch.
 */
import assert from 'node:assert/strict';
import { record } from '../../src/capture/record.js';
import { log } from '../../src/journal/log.js';
import { generateKeyFiles, loadSigningKey, loadTrustedKey } from '../../src/journal/signing-key.js';
import { verify } from '../../src/journal/verify.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

describe('ttj record --sign-with (boot-sector guest) @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('signs every epoch of a live recording; verify --deep --trust accepts it and log names the signer', async () => {
    const k = await generateKeyFiles(tmp.path('rec.key'));
    const J = tmp.path('vm.ttj');
    const r = await record(J, {
      memorySize: 32 << 20,
      disks: [{ name: 'boot', path: ensureBootSectorGuest() }],
      intervalMs: 250,
      fps: 2,
      durationMs: 3000,
      signWith: await loadSigningKey(k.privateKey),
    });
    assert.ok(r.epochs >= 3, JSON.stringify(r));
    await withJournal(J, async (j) => {
      const v = await verify(j, { deep: true, trust: await loadTrustedKey(k.publicKey) });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      assert.ok(v.custody!.signatures >= r.epochs, JSON.stringify(v.custody));
      const l = await log(j);
      assert.equal(l.epochs.length, r.epochs);
      for (const e of l.epochs) assert.equal(e.signer, k.fingerprint, `epoch ${e.epoch}`);
    });
  });
});
