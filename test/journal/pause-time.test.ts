/**
 * The VM's pause per epoch (EpochCommit.pause_us, docs/format.md "Pause time"): kept as
 * given, in the index and `ttj log`, absent (not zero) where not recorded, outside the
 * state root, and carried byte for byte by push.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, type TtjError } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { log } from '../../src/journal/log.js';
import { push } from '../../src/journal/push.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { epochImage, LOOP_PAGE_SIZE } from '../helpers/epoch-image.js';
import { assertSameEvents, storedEvents } from '../helpers/journal-copies.js';
import { repoRoot, ttjAsync } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'journal-0.1.0', 'journal');

/** Appends epochs from the loop's images, epoch e with pause `pauses[e]` µs (undefined: none). */
async function appendWithPauses(dir: string, pauses: (number | undefined)[]): Promise<void> {
  const w = await JournalWriter.openWriter(dir, { pageSize: LOOP_PAGE_SIZE, command: 'pause test' });
  try {
    for (const [e, pauseUs] of pauses.entries()) await appendImages(w, { memory: epochImage(e), pauseUs });
  } finally {
    await w.close();
  }
}

describe('pause time per epoch (EpochCommit.pause_us)', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('is stored as given, absent where not given, and not part of the state root', async () => {
    const a = tmp.path('a');
    const b = tmp.path('b');
    await appendWithPauses(a, [12345, undefined, 0, 987654]);
    await appendWithPauses(b, [undefined, undefined, undefined, undefined]);
    const la = await withJournal(a, (j) => log(j));
    const lb = await withJournal(b, (j) => log(j));
    assert.deepEqual(
      la.epochs.map((e) => e.pauseUs),
      [12345, undefined, 0, 987654],
    );
    assert.ok(!('pauseUs' in la.epochs[1]!), 'an epoch without a pause has no pauseUs key (not recorded, not 0)');
    for (const e of lb.epochs) assert.ok(!('pauseUs' in e));
    // The same states: the same roots, whatever the pauses.
    assert.deepEqual(
      la.epochs.map((e) => e.stateRoot),
      lb.epochs.map((e) => e.stateRoot),
    );
    for (const d of [a, b]) {
      const v = await withJournal(d, (j) => verify(j, { deep: true }));
      assert.equal(v.ok, true, JSON.stringify(v.error));
    }
  });

  it('ttj log shows it (text and --json) where known', async () => {
    const a = tmp.path('log');
    await appendWithPauses(a, [23456, undefined]);
    const json = await ttjAsync('log', a, '--json');
    assert.equal(json.code, 0, json.stderr);
    const l = JSON.parse(json.stdout) as { epochs: { epoch: number; pauseUs?: number }[] };
    assert.deepEqual(
      l.epochs.map((e) => e.pauseUs),
      [23456, undefined],
    );
    const text = await ttjAsync('log', a);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n').filter((s) => s.startsWith('epoch '));
    assert.match(lines[0]!, / {2}pause 23\.5 ms/);
    assert.doesNotMatch(lines[1]!, /pause/);
  });

  it('push carries it byte for byte; the replica verifies and logs the same pauses', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendWithPauses(src, [1000, 2000, undefined]);
    await withJournal(src, (j) => push(j, dest));
    await assertSameEvents(src, dest);
    const v = await withJournal(dest, (j) => verify(j));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    const pauses = await withJournal(dest, async (j) => (await log(j)).epochs.map((e) => e.pauseUs));
    assert.deepEqual(pauses, [1000, 2000, undefined]);
  });

  it('a pause that is not a whole number of µs in range is refused, the journal unchanged', async () => {
    const dir = tmp.path('bad');
    await appendWithPauses(dir, [5]);
    const before = await storedEvents(dir);
    const w = await JournalWriter.openWriter(dir, { command: 'pause test' });
    try {
      for (const pauseUs of [1.5, -1, 2 ** 32]) {
        await assert.rejects(
          () => w.commit([{ epochBegin: { epoch: 1 } }, { epochCommit: { epoch: 1, pauseUs } }]),
          (e: TtjError) => e.code === ErrorCodes.BAD_EVENT_STREAM && /pause/.test(e.message),
        );
      }
    } finally {
      await w.close();
    }
    assert.deepEqual(await storedEvents(dir), before);
  });

  it('a journal written by ttj 0.1.0 has no pause: not recorded', async () => {
    const copy = tmp.path('fixture');
    cpSync(fixture, copy, { recursive: true });
    const l = await withJournal(copy, (j) => log(j));
    assert.equal(l.epochs.length, 3);
    for (const e of l.epochs) assert.equal(e.pauseUs, undefined);
  });
});
