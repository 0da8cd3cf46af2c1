/** Checks that one journal is a copy of another (push tests): the same stored events, byte for byte, and the same folds. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import type { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { epochImage, LOOP_PAGE_SIZE } from './epoch-image.js';
import { sha } from './images.js';
import { withJournal } from './with-journal.js';

/** Every stored event of the journal at `dir`, as bytes. */
export async function storedEvents(dir: string): Promise<Buffer[]> {
  return withJournal(dir, async (j) => {
    const out: Buffer[] = [];
    for await (const batch of j.storedEvents(0)) for (const e of batch) out.push(Buffer.from(e.bytes));
    return out;
  });
}

/** The journal at `b` holds exactly the events of the journal at `a`, byte for byte. */
export async function assertSameEvents(a: string, b: string): Promise<void> {
  const ea = await storedEvents(a);
  const eb = await storedEvents(b);
  assert.equal(eb.length, ea.length, 'the same number of events');
  ea.forEach((e, i) => assert.ok(e.equals(eb[i]!), `event ${i} is the same bytes`));
}

/** SHA-256 of every file under `dir` but the manifest (which names the journal), by relative path. */
function fileHashes(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(join(dir, rel))) {
    const p = join(rel, n);
    if (statSync(join(dir, p)).isDirectory()) Object.assign(out, fileHashes(dir, p));
    else if (n !== 'manifest.json') out[p] = sha(readFileSync(join(dir, p)));
  }
  return out;
}

/** Every epoch of the journal at `a` folds to the same files from the journal at `b`. */
export async function assertSameFolds(a: string, b: string, scratch: string): Promise<void> {
  const epochs = await withJournal(a, async (j) => (await j.head()).epoch);
  for (let e = 0; e <= epochs; e++) {
    const outs = [join(scratch, `a${e}`), join(scratch, `b${e}`)];
    await withJournal(a, (j) => fold(j, { at: `epoch:${e}`, out: outs[0]! }));
    await withJournal(b, (j) => fold(j, { at: `epoch:${e}`, out: outs[1]! }));
    assert.deepEqual(fileHashes(outs[1]!), fileHashes(outs[0]!), `epoch ${e} folds to the same files`);
    for (const o of outs) rmSync(o, { recursive: true, force: true });
  }
}

/** Appends epochs `from`..`to - 1` of the append loop's images (labels e<N>) to the journal at `dir`. */
export async function appendLoopEpochs(dir: string, from: number, to: number, image = epochImage): Promise<void> {
  const w = await JournalWriter.openWriter(dir, { pageSize: LOOP_PAGE_SIZE });
  try {
    const img = `${dir}.img`;
    for (let e = from; e < to; e++) {
      writeFileSync(img, image(e));
      await appendImages(w, { memory: img, label: `e${e}` });
    }
    rmSync(img, { force: true });
  } finally {
    await w.close();
  }
}

/** The head of the journal at `dir` and its store statistics: what must not change when a push is refused. */
export async function snapshot(dir: string): Promise<unknown> {
  return withJournal(dir, async (j: Journal) => ({ head: await j.head(), stats: await j.storeStats() }));
}
