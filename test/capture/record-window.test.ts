/**
 * `ttj record --keep-within` / `--max-size`: a live QEMU guest (the boot-sector guest)
 * recorded with a moving window; old epochs are pruned while recording (in the
 * recording writer, between its appends), the journal verifies, and what is kept folds.
 */
import assert from 'node:assert/strict';
import { record } from '../../src/capture/record.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import type { MovingWindowOptions } from '../../src/journal/moving-window.js';
import { verify } from '../../src/journal/verify.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

describe('ttj record with a moving retention window (boot-sector guest) @slow', function () {
  this.timeout(180000);
  const tmp = useTmp();

  const recordFor = (J: string, window: MovingWindowOptions) => record(J, { memorySize: 32 << 20, disks: [{ name: 'boot', path: ensureBootSectorGuest() }], intervalMs: 200, fps: 1, durationMs: 5000, window });

  /** Verifies (--deep) and folds the oldest and newest epochs still kept; returns the epochs kept and pruned. */
  async function check(J: string): Promise<{ kept: { epoch: number; timeUs: number }[]; pruned: number }> {
    return withJournal(J, async (j) => {
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      const pruned = new Set((v.pruned ?? []).flatMap((p) => p.epochs));
      const kept = (await log(j)).epochs.filter((e) => !pruned.has(e.epoch));
      for (const e of [kept[0]!, kept[kept.length - 1]!]) await fold(j, { at: `epoch:${e.epoch}`, out: tmp.path(`f${e.epoch}`) });
      return { kept, pruned: pruned.size };
    });
  }

  it('--keep-within 1s: epochs older than the window go while recording; the oldest kept one is within the window plus one prune period', async () => {
    const J = tmp.path('within.ttj');
    const r = await recordFor(J, { keepWithinMs: 1000, everyMs: 500 });
    assert.ok(r.prunes >= 2, JSON.stringify(r));
    const c = await check(J);
    assert.ok(c.pruned >= 5, `${c.pruned} pruned`);
    const span = c.kept[c.kept.length - 1]!.timeUs - c.kept[0]!.timeUs;
    assert.ok(span < 3_000_000, `the kept epochs span ${span} µs`);
  });

  it('--max-size: past the cap the oldest epochs go (a warning first), and the journal verifies', async () => {
    const J = tmp.path('size.ttj');
    const warnings: string[] = [];
    const r = await recordFor(J, { maxSize: 1, onWarn: (m) => warnings.push(m) });
    assert.ok(r.prunes >= 1, JSON.stringify(r));
    assert.ok(warnings.length >= 1);
    const c = await check(J);
    assert.ok(c.pruned >= 1, `${c.pruned} pruned`);
  });
});
