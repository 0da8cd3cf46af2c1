import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { useTmp } from '../helpers/tmp.js';

const here = dirname(fileURLToPath(import.meta.url));
const loop = join(here, '..', 'helpers', 'append-loop.js');
const bin = join(here, '..', '..', '..', 'bin', 'run.js');

function startWriter(journal: string): Promise<{ child: ChildProcess; epochs: () => number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [loop, journal, '100000', '50'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = -1;
    let started = false;
    child.stdout!.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/committed (\d+)/g)) last = Number(m[1]);
      if (!started && last >= 1) {
        started = true;
        resolve({ child, epochs: () => last });
      }
    });
    child.on('exit', (c) => !started && reject(new Error(`writer exited ${c}`)));
  });
}

describe('one writer, many readers, across processes @slow', function () {
  this.timeout(60000);
  let writer: ChildProcess | undefined;
  // Registered before useTmp's: the writer must be gone before its directory is removed.
  afterEach(async () => {
    const w = writer;
    writer = undefined;
    if (!w || w.exitCode !== null || w.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.kill('SIGKILL');
    });
  });
  const tmp = useTmp();

  it('refuses a second writer, naming the holder', async () => {
    const J = tmp.path('j');
    const w = await startWriter(J);
    writer = w.child;
    await assert.rejects(JournalWriter.openWriter(J), (e) => isTtjError(e, ErrorCodes.LOCKED) && /append-loop \(test\)/.test(e.message) && e.message.includes(String(w.child.pid)));
    const r = spawnSync(process.execPath, [bin, 'append', J, '--label', 'x', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 4);
    assert.equal(JSON.parse(r.stdout).error.code, ErrorCodes.LOCKED);
  });

  it('lets log, fold and verify read while the writer appends', async () => {
    const J = tmp.path('j');
    const w = await startWriter(J);
    writer = w.child;
    const j = await Journal.open(J);
    try {
      const h1 = await j.head();
      assert.ok(h1.epoch >= 1);
      await new Promise((r) => setTimeout(r, 400));
      const h2 = await j.head();
      assert.ok(h2.seq > h1.seq, 'the reader sees new epochs');
      const m = await fold(j, { at: `epoch:${h1.epoch}`, out: tmp.path('o') });
      assert.equal(m.epoch, h1.epoch);
      const v = await verify(j);
      assert.equal(v.ok, true, JSON.stringify(v.error));
    } finally {
      await j.close();
    }
    const r = spawnSync(process.execPath, [bin, 'log', J, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.head.epoch >= 1);
    assert.ok(out.epochs.length >= 2);
    // a second reader at the same time, in another process
    const r2 = spawnSync(process.execPath, [bin, 'verify', J, '--json'], { encoding: 'utf8' });
    assert.equal(r2.status, 0, r2.stdout + r2.stderr);
  });
  it('a reader holding the index hands it over to a writer that starts, in the middle of a read, and the read goes on through the writer', async () => {
    const J = tmp.path('j');
    const seed = spawnSync(process.execPath, [loop, J, '2'], { encoding: 'utf8' });
    assert.equal(seed.status, 0, seed.stderr);
    // More events than one batch of the index's range reads (1024), so that the hand-over
    // falls in the middle of the read.
    const w0 = await JournalWriter.openWriter(J);
    await w0.commit(
      Array.from({ length: 3000 }, (_, i) => ({ label: { text: `l${i}` } })),
      [],
      { sync: true },
    );
    await w0.close();
    const j = await Journal.open(J);
    try {
      const head = await j.head();
      assert.ok(head.seq > 3000);
      const seen: number[] = [];
      let t0 = 0;
      let started: Promise<{ child: ChildProcess; epochs: () => number }> | undefined;
      for await (const e of j.events()) {
        seen.push(e.seq);
        // This process holds the index now (no writer runs); a writer starts mid-read.
        if (seen.length === 10) {
          t0 = Date.now();
          started = startWriter(J);
        }
        if (seen.length < 2100) await new Promise((r) => setTimeout(r, 1));
      }
      const w = await started!;
      writer = w.child;
      assert.ok(Date.now() - t0 < 10_000, 'the writer was not kept waiting for the index');
      assert.deepEqual(
        seen,
        Array.from({ length: head.seq + 1 }, (_, i) => i),
        'every event once, in order, across the hand-over',
      );
      // Reads go on through the writer, and see its appends.
      await new Promise((r) => setTimeout(r, 300));
      assert.ok((await j.head()).seq > head.seq);
    } finally {
      await j.close();
    }
  });
});
