import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, type TtjError } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { namedBlobs } from '../../src/journal/blob-needs.js';
import { decodeEvent, encodeEvent } from '../../src/journal/codec.js';
import { forkJournal } from '../../src/journal/fork.js';
import { push } from '../../src/journal/push.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { epochImage, LOOP_PAGE_SIZE } from '../helpers/epoch-image.js';
import { appendLoopEpochs, assertSameEvents, assertSameFolds, snapshot, storedEvents } from '../helpers/journal-copies.js';
import { repoRoot } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';
import type { ttj } from '../../src/gen/events.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'journal-0.1.0', 'journal');

/** Pushes the journal at `src` into `dest` (a location). */
const pushDirs = (src: string, dest: string, opts: Parameters<typeof push>[2] = {}) => withJournal(src, (j) => push(j, dest, opts));

async function verifiedDeep(dir: string): Promise<void> {
  const v = await withJournal(dir, (j) => verify(j, { deep: true }));
  assert.equal(v.ok, true, JSON.stringify(v.error));
}

describe('push (library)', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('to a new destination: creates it with the source events byte for byte (disks, device state, frames, labels), every blob sent once, and it verifies and folds the same', async () => {
    const src = tmp.path('src');
    cpSync(fixture, src, { recursive: true });
    const dest = tmp.path('dest');
    const r = await pushDirs(src, dest);
    const events = await storedEvents(src);
    assert.equal(r.created, true);
    assert.equal(r.commonSeq, -1);
    assert.equal(r.events, events.length);
    assert.equal(r.head.seq, events.length - 1);
    assert.equal(r.blobsSkipped, 0);
    assert.ok(r.blobsSent > 0);
    assert.equal(r.bytesSkipped, 0);
    const eventBytes = events.reduce((n, e) => n + e.length, 0);
    const blobBytes = await withJournal(src, async (j) => {
      const addrs = new Map<string, Buffer>();
      for await (const { seq, event } of j.events()) for (const x of namedBlobs(event, seq)) addrs.set(x.toString('hex'), x);
      assert.equal(addrs.size, r.blobsSent);
      return (await j.blobSizes([...addrs.values()])).reduce((n: number, x) => n + x!, 0);
    });
    assert.equal(r.bytesSent, eventBytes + blobBytes, 'the events and the blobs they name are sent (keyframes are built at the destination)');
    await assertSameEvents(src, dest);
    await verifiedDeep(dest);
    await assertSameFolds(src, dest, tmp.path('o'));
    // Labels and frames are found through the destination's own index.
    await withJournal(dest, async (j) => {
      assert.equal((await j.label('third'))?.epoch, 2);
      assert.equal((await j.lastFrame())?.frame, 2);
    });
  });

  it('incrementally: a second push sends only the new events, and a third nothing', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 3);
    const first = await pushDirs(src, dest);
    await appendLoopEpochs(src, 3, 5);
    const second = await pushDirs(src, dest);
    assert.equal(second.created, false);
    assert.equal(second.commonSeq, first.head.seq);
    const events = await storedEvents(src);
    assert.equal(second.events, events.length - 1 - first.head.seq);
    assert.equal(second.head.seq, events.length - 1);
    assert.ok(second.blobsSent > 0 && second.blobsSent < first.blobsSent);
    await assertSameEvents(src, dest);
    await verifiedDeep(dest);
    await assertSameFolds(src, dest, tmp.path('o'));
    const third = await pushDirs(src, dest);
    assert.deepEqual([third.events, third.batches, third.blobsSent, third.bytesSent, third.commonSeq], [0, 0, 0, 0, second.head.seq]);
  });

  it('sends no blob the destination holds: an epoch whose pages it already has is sent as events only, and the skipped ones are counted', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 2);
    await pushDirs(src, dest);
    // Epoch 2 goes back to epoch 0's image: every changed page is one the destination holds.
    await appendLoopEpochs(src, 0, 1);
    const r = await pushDirs(src, dest);
    const named = await withJournal(src, async (j) => {
      const addrs = new Set<string>();
      for await (const { event } of j.events({ from: r.commonSeq + 1 })) {
        const a = event.pages?.addrs;
        if (a) for (let i = 0; i < a.length; i += 32) addrs.add(Buffer.from(a.subarray(i, i + 32)).toString('hex'));
      }
      return addrs.size;
    });
    assert.ok(named > 0);
    assert.equal(r.blobsSent, 0);
    assert.equal(r.blobsSkipped, named);
    assert.equal(r.bytesSkipped, named * LOOP_PAGE_SIZE);
    await assertSameEvents(src, dest);
    await verifiedDeep(dest);
  });

  it('in small batches: each ends at an epoch boundary, and the result is the same', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 6);
    const r = await pushDirs(src, dest, { batch: { blobs: 1 } });
    assert.equal(r.batches, 6, 'one batch per epoch (each names more blobs than the limit)');
    await assertSameEvents(src, dest);
    await verifiedDeep(dest);
  });

  it('refuses a destination that diverged, naming the first differing seq (TTJ_DIVERGED), and writes nothing', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 2);
    const r = await pushDirs(src, dest);
    await appendLoopEpochs(src, 2, 4);
    await appendLoopEpochs(dest, 7, 8); // another epoch 2 at the destination
    const before = await snapshot(dest);
    await assert.rejects(pushDirs(src, dest), (e: TtjError) => e.code === ErrorCodes.DIVERGED && e.seq === r.head.seq + 1);
    assert.deepEqual(await snapshot(dest), before);
    await verifiedDeep(dest);
    // A destination longer than the source that diverged is diverged, not ahead.
    await appendLoopEpochs(dest, 8, 12);
    await assert.rejects(pushDirs(src, dest), (e: TtjError) => e.code === ErrorCodes.DIVERGED && e.seq === r.head.seq + 1);
  });

  it('refuses another journal (TTJ_DIVERGED at seq 0)', async () => {
    const a = tmp.path('a');
    const b = tmp.path('b');
    await appendLoopEpochs(a, 0, 1);
    await appendLoopEpochs(b, 0, 1);
    const before = await snapshot(b);
    await assert.rejects(pushDirs(a, b), (e: TtjError) => e.code === ErrorCodes.DIVERGED && e.seq === 0);
    assert.deepEqual(await snapshot(b), before);
  });

  it('refuses a destination ahead of the source (TTJ_AHEAD), and writes nothing', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 2);
    const r = await pushDirs(src, dest);
    await appendLoopEpochs(dest, 2, 3);
    const before = await snapshot(dest);
    await assert.rejects(pushDirs(src, dest), (e: TtjError) => e.code === ErrorCodes.AHEAD && e.seq === r.head.seq);
    assert.deepEqual(await snapshot(dest), before);
  });

  it('recognises a fork of the source, either way round (TTJ_FORKED at the parent seq), and writes nothing', async () => {
    const src = tmp.path('src');
    const fork = tmp.path('fork');
    await appendLoopEpochs(src, 0, 3);
    const parentSeq = await withJournal(src, async (j) => {
      const f = await forkJournal(j, 'epoch:1', fork);
      await f.writer.close();
      return f.parentSeq;
    });
    const before = await snapshot(fork);
    await assert.rejects(pushDirs(src, fork), (e: TtjError) => e.code === ErrorCodes.FORKED && e.seq === parentSeq && /is a fork of/.test(e.message));
    assert.deepEqual(await snapshot(fork), before);
    await assert.rejects(pushDirs(fork, src), (e: TtjError) => e.code === ErrorCodes.FORKED && e.seq === parentSeq);
    // A fork is pushed like any journal to a new destination.
    await pushDirs(fork, tmp.path('fork-copy'));
    await assertSameEvents(fork, tmp.path('fork-copy'));
    await verifiedDeep(tmp.path('fork-copy'));
  });

  it('into an open writer: the writer goes on appending after the pushed events', async () => {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 2);
    await pushDirs(src, dest);
    await appendLoopEpochs(src, 2, 4);
    const w = await JournalWriter.openWriter(dest);
    try {
      const r = await withJournal(src, (j) => push(j, w));
      assert.equal(w.headSeqNumber, r.head.seq);
      assert.equal(w.nextEpochNumber, 4);
      writeFileSync(tmp.path('m'), epochImage(9));
      await appendImages(w, { memory: tmp.path('m'), label: 'own' });
    } finally {
      await w.close();
    }
    await verifiedDeep(dest);
  });
});

describe('JournalWriter.appendReplicated', function () {
  this.timeout(60000);
  const tmp = useTmp();

  /** A source of 2 epochs, pushed up to epoch 0 into a destination; returns the events of epoch 1 and the blobs they name. */
  async function setUp() {
    const src = tmp.path('src');
    const dest = tmp.path('dest');
    await appendLoopEpochs(src, 0, 1);
    await pushDirs(src, dest);
    await appendLoopEpochs(src, 1, 2);
    return withJournal(src, async (j) => {
      const from = (await j.epoch(0))!.seq + 1;
      const events: { seq: number; bytes: Buffer }[] = [];
      for await (const b of j.storedEvents(from)) events.push(...b);
      const addrs: Buffer[] = [];
      for await (const { event } of j.events({ from })) {
        const a = event.pages?.addrs;
        if (a) for (let i = 0; i < a.length; i += 32) addrs.push(Buffer.from(a.subarray(i, i + 32)));
      }
      const data = await j.blobs(addrs);
      return { dest, events, blobs: addrs.map((addr, i) => ({ addr, data: data[i]! })) };
    });
  }

  async function refused(dest: string, events: { seq: number; bytes: Buffer }[], blobs: { addr: Buffer; data: Buffer }[], code: string): Promise<void> {
    const before = await snapshot(dest);
    const w = await JournalWriter.openWriter(dest);
    try {
      await assert.rejects(w.appendReplicated(events, blobs), (e: TtjError) => e.code === code);
    } finally {
      await w.close();
    }
    assert.deepEqual(await snapshot(dest), before);
  }

  it('appends events that continue the chain, and refuses a gap, a half epoch, a missing blob, a changed state root, counts or label binding, and a wrong prev_hash', async () => {
    const { dest, events, blobs } = await setUp();
    await refused(dest, events.slice(1), blobs, ErrorCodes.BAD_EVENT_STREAM);
    await refused(dest, events.slice(0, -1), blobs, ErrorCodes.BAD_EVENT_STREAM);
    await refused(dest, events, blobs.slice(1), ErrorCodes.CORRUPT_BLOB);
    /** The events with event `i` changed by `f` and re-encoded. */
    const changed = (i: number, f: (e: ttj.v1.Event) => void) =>
      events.map((e, k) => {
        if (k !== i) return e;
        const ev = decodeEvent(e.bytes, e.seq);
        f(ev);
        return { seq: e.seq, bytes: Buffer.from(encodeEvent(ev)) };
      });
    const last = events.length - 1;
    await refused(
      dest,
      changed(last, (e) => (e.epochCommit!.stateRoot = Buffer.alloc(32, 7))),
      blobs,
      ErrorCodes.STATE_ROOT_MISMATCH,
    );
    // A commit whose counts are not what the journal derives from the epoch's events.
    await refused(
      dest,
      changed(last, (e) => (e.epochCommit!.dirtyPages = Number(e.epochCommit!.dirtyPages) + 1)),
      blobs,
      ErrorCodes.BAD_EVENT_STREAM,
    );
    // A label bound to another epoch than the one it is in.
    const label = events.findIndex((e) => decodeEvent(e.bytes).body === 'label');
    assert.ok(label >= 0);
    await refused(
      dest,
      changed(label, (e) => (e.label!.epoch = 0)),
      blobs,
      ErrorCodes.BAD_EVENT_STREAM,
    );
    // One whose prev_hash does not name the head.
    await refused(
      dest,
      changed(0, (e) => (e.prevHash = Buffer.alloc(32, 1))),
      blobs,
      ErrorCodes.BAD_EVENT_STREAM,
    );
    // After every refusal, the right events go in and the copy verifies.
    const w = await JournalWriter.openWriter(dest);
    try {
      const r = await w.appendReplicated(events, blobs);
      assert.equal(r.lastSeq, events[events.length - 1]!.seq);
    } finally {
      await w.close();
    }
    await verifiedDeep(dest);
    await assertSameEvents(tmp.path('src'), dest);
  });
});
