/** Checks that one journal is a copy of another (push tests): the same stored events, byte for byte, and the same folds. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import type { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { epochImage, LOOP_PAGE_SIZE } from './epoch-image.js';
import { fileHashes } from './file-hashes.js';
import { withJournal } from './with-journal.js';

/** The fold output's manifest names the journal it came from: not compared. */
const FOLD_MANIFEST = ['manifest.json'];

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

/** Every epoch of the journal at `a` folds to the same files from the journal at `b`. */
export async function assertSameFolds(a: string, b: string, scratch: string): Promise<void> {
  const epochs = await withJournal(a, async (j) => (await j.head()).epoch);
  for (let e = 0; e <= epochs; e++) {
    const outs = [join(scratch, `a${e}`), join(scratch, `b${e}`)];
    await withJournal(a, (j) => fold(j, { at: `epoch:${e}`, out: outs[0]! }));
    await withJournal(b, (j) => fold(j, { at: `epoch:${e}`, out: outs[1]! }));
    assert.deepEqual(fileHashes(outs[1]!, FOLD_MANIFEST), fileHashes(outs[0]!, FOLD_MANIFEST), `epoch ${e} folds to the same files`);
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
