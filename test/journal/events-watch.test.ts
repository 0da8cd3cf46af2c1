import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal, type JournalCommit } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { epochImage, LOOP_PAGE_SIZE } from '../helpers/epoch-image.js';
import { writeFileSync } from 'node:fs';
import { useTmp } from '../helpers/tmp.js';

const loop = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'append-loop.js');

describe('Journal.events() and Journal.watch()', function () {
  this.timeout(60000);
  const tmp = useTmp();

  it('events() yields every decoded event in order, from a seq', async () => {
    const J = tmp.path('j');
    const w = await JournalWriter.openWriter(J, { pageSize: LOOP_PAGE_SIZE });
    for (let e = 0; e < 2; e++) {
      writeFileSync(tmp.path('m'), epochImage(e));
      await appendImages(w, { memory: tmp.path('m'), label: `e${e}` });
    }
    await w.close();
    const j = await Journal.open(J);
    try {
      const all: number[] = [];
      const bodies: string[] = [];
      for await (const { seq, event } of j.events()) {
        all.push(seq);
        bodies.push(event.body!);
      }
      const head = await j.head();
      assert.deepEqual(
        all,
        Array.from({ length: head.seq + 1 }, (_, i) => i),
      );
      assert.equal(bodies[0], 'header');
      assert.equal(bodies.filter((b) => b === 'epochCommit').length, 2);
      const later: number[] = [];
      for await (const { seq } of j.events({ from: 3, to: 5 })) later.push(seq);
      assert.deepEqual(later, [3, 4]);
    } finally {
      await j.close();
    }
  });

  it('watch() reports the commits another process makes, each once, in order, then stops on abort', async () => {
    const J = tmp.path('j');
    const w = await JournalWriter.openWriter(J, { pageSize: LOOP_PAGE_SIZE });
    writeFileSync(tmp.path('m'), epochImage(0));
    await appendImages(w, { memory: tmp.path('m') });
    await w.close();
    const j = await Journal.open(J);
    const stop = new AbortController();
    const seen: JournalCommit[] = [];
    const child = spawn(process.execPath, [loop, J, '3', '100'], { stdio: 'ignore' });
    try {
      const start = (await j.head()).seq;
      for await (const c of j.watch({ signal: stop.signal })) {
        seen.push(c);
        if (c.epochs.some((e) => e.epoch === 3)) stop.abort();
      }
      assert.equal(seen[0]!.fromSeq, start + 1);
      for (let i = 1; i < seen.length; i++) assert.equal(seen[i]!.fromSeq, seen[i - 1]!.head.seq + 1, 'no gap, no overlap');
      assert.deepEqual(
        seen.flatMap((c) => c.epochs.map((e) => e.epoch)),
        [1, 2, 3],
      );
      for (const c of seen) for (const e of c.epochs) assert.ok(e.seq >= c.fromSeq && e.seq <= c.head.seq);
    } finally {
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.on('exit', r)));
      await j.close();
    }
  });
});
