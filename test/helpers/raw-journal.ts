/**
 * Writes events straight into a journal's store, past the writer's checks, the way a
 * buggy or hostile tool could: chained and with true state roots, so that only what
 * is under test is wrong. For tests of what verify and fold catch.
 */
import type { IEvent } from '../../src/journal/codec.js';
import { decodeEvent, encodeEvent, eventHash } from '../../src/journal/codec.js';
import { IndexBuilder } from '../../src/journal/index-builder.js';
import { Journal } from '../../src/journal/journal.js';
import { stateAt } from '../../src/journal/state-at.js';
import { LocalStore } from '../../src/store/local-store.js';
import type { BlobPut } from '../../src/store/store.js';

/** Appends `bodies` (a whole epoch or more) to the closed journal at `dir`, with their index entries. */
export async function rawAppend(dir: string, bodies: IEvent[], blobs: BlobPut[]): Promise<void> {
  const j = await Journal.open(dir);
  const head = (await j.storeHead())!;
  const { state } = await stateAt(j, head.seq);
  const pageSize = j.pageSize;
  await j.close();
  const store = await LocalStore.open(dir, { write: true });
  try {
    const ix = new IndexBuilder(pageSize, new Map(), (n) => state.disks.get(n));
    const events: Uint8Array[] = [];
    let seq = head.seq;
    let prev = head.hash;
    for (const b of bodies) {
      seq++;
      const ev: IEvent = { ...b, seq, prevHash: prev, timeUs: Date.now() * 1000 };
      if (ev.epochCommit) ev.epochCommit = { ...ev.epochCommit, stateRoot: state.root() };
      const bytes = encodeEvent(ev);
      const d = decodeEvent(bytes, seq);
      if (d.body !== 'epochCommit') state.apply(d, seq);
      ix.feed(seq, d);
      events.push(bytes);
      prev = eventHash(bytes);
    }
    await store.append({ expectedHead: head.seq, events, blobs, index: ix.index() });
  } finally {
    await store.close();
  }
}
