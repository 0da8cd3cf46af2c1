import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal } from '../../src/journal/journal.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { sha } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';

const here = dirname(fileURLToPath(import.meta.url));
/** test/fixtures is not compiled: reach it from dist/test/journal. */
const fixture = join(here, '..', '..', '..', 'test', 'fixtures', 'journal-0.1.0');

interface Expected {
  epoch: number;
  seq: number;
  stateRoot: string;
  frame?: number;
  files: Record<string, string>;
}

describe('a journal written by ttj 0.1.0 (format 1) keeps opening', function () {
  const tmp = useTmp();
  const expected = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as Record<string, Expected>;

  it('verifies deep and folds every point to the bytes 0.1.0 folded', async () => {
    const J = tmp.path('j');
    cpSync(join(fixture, 'journal'), J, { recursive: true });
    const j = await Journal.open(J);
    try {
      const report = await verify(j, { deep: true });
      assert.equal(report.ok, true, JSON.stringify(report.error));
      assert.equal(report.epochs, 3);
      assert.equal(report.frames, 3);
      for (const [point, want] of Object.entries(expected)) {
        const out = tmp.path('out', point.replace(/[^a-z0-9]/g, '_'));
        const m = await fold(j, { at: point, out });
        assert.equal(m.epoch, want.epoch, point);
        assert.equal(m.seq, want.seq, point);
        assert.equal(m.stateRoot, want.stateRoot, point);
        for (const [file, hash] of Object.entries(want.files)) assert.equal(sha(readFileSync(join(out, file))), hash, `${point}: ${file}`);
        assert.equal(existsSync(join(out, 'frame.png')), 'frame.png' in want.files, point);
      }
    } finally {
      await j.close();
    }
  });
});
