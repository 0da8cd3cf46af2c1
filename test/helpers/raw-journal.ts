/**
 * Writes events straight into a journal's store, past the writer's checks, the way a
 * buggy or hostile tool could: chained and with true state roots, so that only what
 * is under test is wrong. For tests of what verify and fold catch.
 */
import { join } from 'node:path';
import { Level } from 'level';
import type { IEvent } from '../../src/journal/codec.js';
import { decodeEvent, encodeEvent, eventHash } from '../../src/journal/codec.js';
import { IndexBuilder } from '../../src/journal/index-builder.js';
import { Journal } from '../../src/journal/journal.js';
import { repairJournal } from '../../src/journal/repair.js';
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

/**
 * Rewrites history the way a forger with write access could: the events from `fromSeq`
 * on are removed, then appended again through `change` with {@link rawAppend}, so that the
 * hash chain, the state roots and the index all hold again (keyframes are dropped: they
 * stood for the old states). Whatever else the events carried (signatures) is kept as it was.
 */
export async function rewriteHistory(dir: string, fromSeq: number, change: (ev: IEvent, seq: number) => IEvent): Promise<void> {
  const old: IEvent[] = [];
  const db = new Level<string, Buffer>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  try {
    const from = 'e/' + fromSeq.toString(16).padStart(14, '0');
    for await (const [k, v] of db.iterator({ gte: from, lt: 'e0' })) {
      const ev = decodeEvent(v);
      old.push(change(ev, Number(ev.seq)));
      await db.del(k);
    }
  } finally {
    await db.close();
  }
  await repairJournal(dir);
  await rawAppend(
    dir,
    old.map((ev) => (ev.epochCommit ? { ...ev, epochCommit: { ...ev.epochCommit, keyframe: undefined } } : ev)),
    [],
  );
}
