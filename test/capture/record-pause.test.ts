/**
 * `ttj record` stores each epoch's pause (EpochCommit.pause_us, docs/format.md "Pause
 * time"): a live QEMU guest (the boot-sector guest) recorded; every epoch it made has
 * the pause it reported, the journal verifies, and an epoch appended afterwards from
 * images has none.
 */
import assert from 'node:assert/strict';
import { record } from '../../src/capture/record.js';
import { appendImages } from '../../src/journal/append-images.js';
import { log } from '../../src/journal/log.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

describe('ttj record stores the pause of each epoch (boot-sector guest) @slow', function () {
  this.timeout(180000);
  const tmp = useTmp();

  it('every recorded epoch carries the pause record measured; log shows it; an appended epoch has none', async () => {
    const J = tmp.path('vm.ttj');
    const measured = new Map<number, number>();
    const r = await record(J, {
      memorySize: 32 << 20,
      disks: [{ name: 'boot', path: ensureBootSectorGuest() }],
      intervalMs: 250,
      fps: 2,
      durationMs: 3000,
      onEpoch: (e) => measured.set(e.epoch, e.pauseMs),
    });
    assert.ok(r.epochs >= 3, JSON.stringify(r));
    const l = await withJournal(J, (j) => log(j));
    assert.equal(l.epochs.length, r.epochs);
    for (const e of l.epochs) {
      assert.equal(typeof e.pauseUs, 'number', `epoch ${e.epoch} has a pause`);
      assert.ok(e.pauseUs! > 0, `epoch ${e.epoch}: pause ${e.pauseUs} µs`);
      const ms = measured.get(e.epoch);
      assert.notEqual(ms, undefined, `record reported epoch ${e.epoch}`);
      assert.equal(e.pauseUs, Math.round(ms! * 1000), `epoch ${e.epoch}: the pause record measured`);
    }
    const maxUs = Math.max(...l.epochs.map((e) => e.pauseUs!));
    assert.ok(Math.abs(maxUs / 1000 - r.pauseMs.max) < 0.001, `max ${maxUs} µs vs the summary's ${r.pauseMs.max} ms`);

    // An epoch appended from images (not captured from a paused VM) has no pause.
    const w = await JournalWriter.openWriter(J, { command: 'pause test' });
    try {
      await appendImages(w, { device: Buffer.from('another device state') });
    } finally {
      await w.close();
    }
    await withJournal(J, async (j) => {
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      const after = await log(j);
      assert.equal(after.epochs.length, r.epochs + 1);
      assert.ok(!('pauseUs' in after.epochs[r.epochs]!), 'the appended epoch has no pause');
    });
  });
});
