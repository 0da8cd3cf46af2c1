/**
 * A long-lived reader (`ttj ui`) hands its index over to each writer that comes, also
 * when many reads of it started at once while no one held the index (they connect once).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Journal } from '../../src/journal/journal.js';
import { LevelKv } from '../../src/store/level-kv.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { makeFramesJournal } from '../helpers/frames-journal.js';
import { useTmp } from '../helpers/tmp.js';

describe('a reader in the process of the writers that come and go', function () {
  this.timeout(60000);
  const tmp = useTmp();

  it('concurrent reads after a writer closed do not keep the next writer out', async () => {
    const J = tmp.path('j');
    await makeFramesJournal(J, tmp.dir, { epochs: 2, framesPerEpoch: 1 });
    const r = await Journal.open(J);
    try {
      await r.lastEpoch();
      for (let k = 0; k < 3; k++) {
        const w = await JournalWriter.openWriter(J, { create: false, command: 'test writer' });
        await w.commit([{ label: { text: `l${k}`, epoch: 0, chosen: true } }]);
        await w.close();
        // Many reads at once, while nobody holds the index: they open it once.
        const heads = await Promise.all(Array.from({ length: 8 }, () => r.lastEpoch()));
        assert.ok(heads.every((h) => h?.epoch === 1));
      }
      assert.equal((await r.label('l2'))?.epoch, 0);
    } finally {
      await r.close();
    }
  });

  it('a read after the reader closed fails and does not open the index again (which would keep it from others)', async () => {
    const J = tmp.path('j');
    await makeFramesJournal(J, tmp.dir, { epochs: 1, framesPerEpoch: 1 });
    const r = await Journal.open(J);
    await r.lastEpoch();
    await r.close();
    await assert.rejects(r.lastEpoch());
    // Nobody holds the index now: it opens here at once.
    const kv = await LevelKv.open(join(J, 'index'));
    await kv.close();
  });
});
