import assert from 'node:assert/strict';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Pull from '../../src/commands/pull.js';
import Push from '../../src/commands/push.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendLoopEpochs, assertSameEvents, snapshot } from '../helpers/journal-copies.js';
import { repoRoot, ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { quietConsole } from '../helpers/quiet-console.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'journal-0.1.0', 'journal');

describe('ttj push and ttj pull', function () {
  this.timeout(120000);
  const tmp = useTmp();
  quietConsole();

  it('in-process: push creates a copy, pull (your journal first) brings it up to date, and both return the result', async () => {
    const src = tmp.path('src');
    const copy = tmp.path('copy');
    await appendLoopEpochs(src, 0, 2);
    const p = await Push.run([src, copy, '--json'], repoRoot);
    assert.equal(p.created, true);
    assert.equal(p.commonSeq, -1);
    assert.equal(p.destination, copy);
    await appendLoopEpochs(src, 2, 3);
    const q = await Pull.run([copy, src, '--json'], repoRoot);
    assert.equal(q.source, src);
    assert.equal(q.destination, copy);
    assert.equal(q.commonSeq, p.head.seq);
    assert.ok(q.events > 0 && q.blobsSent > 0);
    await assertSameEvents(src, copy);
  });

  it('in-process: a refused push throws the TtjError with its code', async () => {
    const a = tmp.path('a');
    const b = tmp.path('b');
    await appendLoopEpochs(a, 0, 1);
    await appendLoopEpochs(b, 0, 1);
    await assert.rejects(Push.run([a, b, '--json'], repoRoot), (e: unknown) => isTtjError(e, ErrorCodes.DIVERGED) && e.seq === 0);
  });

  it('subprocess: exit 0 and the JSON result; a diverged destination exits 8 with TTJ_DIVERGED naming the seq and is left as it was', async () => {
    const src = tmp.path('src');
    cpSync(fixture, src, { recursive: true });
    const dest = tmp.path('dest');
    const r = ttj(['push', src, dest, '--json']);
    assert.equal(r.status, 0, r.stderr);
    for (const k of ['events', 'blobsSent', 'blobsSkipped', 'bytesSent', 'bytesSkipped', 'commonSeq', 'head', 'batches', 'created']) assert.ok(k in r.json, k);
    assert.equal(r.json.events, 25);
    assert.equal(r.json.head.seq, 24);
    const again = ttj(['push', src, dest, '--json']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.json.events, 0);
    assert.equal(again.json.commonSeq, 24);
    // The destination takes a label of its own: it is ahead.
    const w = await JournalWriter.openWriter(dest);
    await w.commit([{ label: { text: 'mine' } }]);
    await w.close();
    const ahead = ttj(['push', src, dest, '--json']);
    assert.equal(ahead.status, 9);
    assert.equal(ahead.json.error.code, ErrorCodes.AHEAD);
    const other = tmp.path('other');
    await appendLoopEpochs(other, 0, 1);
    const before = await snapshot(other);
    const d = ttj(['push', src, other, '--json']);
    assert.equal(d.status, 9);
    assert.equal(d.json.error.code, ErrorCodes.DIVERGED);
    assert.equal(d.json.error.seq, 0);
    assert.deepEqual(await snapshot(other), before);
    const plain = ttj(['pull', other, src]);
    assert.equal(plain.status, 9);
    assert.match(plain.stderr, /\[TTJ_DIVERGED\]/);
  });

  it('subprocess: a missing source is TTJ_NOT_A_JOURNAL and creates nothing; a missing argument is exit 2', async () => {
    const r = ttj(['push', tmp.path('none'), tmp.path('dest'), '--json']);
    assert.equal(r.status, 1);
    assert.equal(r.json.error.code, ErrorCodes.NOT_A_JOURNAL);
    assert.equal(existsSync(tmp.path('dest')), false);
    assert.equal(ttj(['push', tmp.path('none')]).status, 2);
  });
});
