import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { splitAddrs } from '../../src/journal/chunks.js';
import { buf, decodeEvent } from '../../src/journal/codec.js';
import { fold } from '../../src/journal/fold.js';
import { sha256 } from '../../src/util/hash.js';
import { epochEvents } from '../helpers/small-journal.js';
import { prune } from '../../src/journal/prune.js';
import type { RetentionPolicy } from '../../src/journal/retention-policy.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { buildPruningJournal, dirBytes, everyPoint, foldPoints, PPS, type Folded } from '../helpers/pruning-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

async function pruneJournal(dir: string, policy: RetentionPolicy) {
  const w = await JournalWriter.openWriter(dir, { create: false });
  try {
    return await prune(w, { policy });
  } finally {
    await w.close();
  }
}

/** Every point folds as before, or (when it needs a dropped epoch) fails with TTJ_PRUNED. */
function compareFolds(before: Map<string, Folded | string>, after: Map<string, Folded | string>, dropped: Set<number>): { kept: number; pruned: number } {
  let kept = 0;
  let pruned = 0;
  for (const [at, was] of before) {
    const now = after.get(at);
    if (now === ErrorCodes.PRUNED) {
      pruned++;
      continue;
    }
    assert.deepEqual(now, was, `${at} folds differently after the prune`);
    kept++;
  }
  assert.ok(dropped.size === 0 || pruned > 0);
  return { kept, pruned };
}

describe('prune: dropped epochs, kept points fold as before, space given back (embedded store)', function () {
  this.timeout(300000);
  const tmp = useTmp();

  it('keep-last 5 of 24 (labelled epoch 3 kept): every kept epoch, frame and seq folds to the same bytes; dropped ones fail with TTJ_PRUNED; verify --deep passes and names the prune; the directory shrinks', async () => {
    const J = tmp.path('j');
    await buildPruningJournal(J, tmp.dir, { epochs: 24, labels: { 3: 'keep me' } });
    const points = await everyPoint(J);
    const before = await foldPoints(J, tmp.dir, points);
    const bytesBefore = dirBytes(J);
    const r = await pruneJournal(J, { keepLast: 5 });
    const dropped = new Set(r.epochs.filter((e) => !e.keep).map((e) => e.epoch));
    assert.deepEqual([...dropped], [0, 1, 2, ...Array.from({ length: 15 }, (_, i) => i + 4)]);
    assert.ok(r.pruneSeq !== undefined);
    assert.ok(r.collected!.removed.blobs > 0);
    const after = await foldPoints(J, tmp.dir, points);
    const c = compareFolds(before, after, dropped);
    assert.equal(after.get('epoch:3') !== ErrorCodes.PRUNED, true);
    assert.equal(after.get('epoch:10'), ErrorCodes.PRUNED);
    assert.ok(c.kept >= 6, `${c.kept} kept points`);
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    assert.deepEqual(
      v.pruned?.map((p) => p.epochs),
      [[...dropped]],
    );
    const bytesAfter = dirBytes(J);
    assert.ok(bytesAfter < bytesBefore * 0.6, `${bytesBefore} -> ${bytesAfter} bytes`);
  });
});

describe('prune: time rules, repeated prunes, and appends that reuse a blob about to go', function () {
  this.timeout(300000);
  const tmp = useTmp();

  it('keep-within 7s and keep-minutely 2 over 40 epochs 3 s apart keep epochs 19, 37, 38, 39; the same prune again drops nothing more; keep-last 1 then drops the rest and everything kept still folds as before', async () => {
    const J = tmp.path('t');
    // Event times may be up to 5 minutes ahead of the clock: the epochs start at the next whole minute but one.
    const start = (Math.ceil(Date.now() / 60000) + 1) * 60000 * 1000;
    const w = await JournalWriter.openWriter(J, { create: true });
    try {
      for (let e = 0; e < 40; e++) {
        const timeUs = start + e * 3e6;
        await appendEventStream(w, encodeEventStream(epochEvents(e).map((ev) => (ev.blob ? ev : { ...ev, timeUs }))));
      }
    } finally {
      await w.close();
    }
    const points = await everyPoint(J);
    const before = await foldPoints(J, tmp.dir, points);
    const policy: RetentionPolicy = { keepWithinMs: 7000, keep: { minutely: 2 } };
    const r1 = await pruneJournal(J, policy);
    assert.deepEqual(
      r1.epochs.filter((e) => e.keep).map((e) => [e.epoch, e.reasons.join(',')]),
      [
        [19, 'minutely'],
        [37, 'within'],
        [38, 'within'],
        [39, 'head,within,minutely'],
      ],
    );
    const again = await pruneJournal(J, policy);
    assert.equal(again.pruneSeq, undefined);
    assert.equal(again.dropped.epochs, 0);
    assert.equal(again.prunedBefore, 36);
    compareFolds(before, await foldPoints(J, tmp.dir, points), new Set([0]));
    const r3 = await pruneJournal(J, { keepLast: 1 });
    assert.deepEqual(
      r3.epochs.map((e) => [e.epoch, e.keep]),
      [
        [19, false],
        [37, false],
        [38, false],
        [39, true],
      ],
    );
    const after = await foldPoints(J, tmp.dir, points);
    assert.deepEqual(after.get('epoch:39'), before.get('epoch:39'));
    assert.equal(after.get('epoch:38'), ErrorCodes.PRUNED);
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    assert.deepEqual(
      v.pruned?.map((p) => p.epochs.length),
      [36, 3],
    );
  });

  it('an epoch appended between the plan and the removal that names a blob about to go keeps it (the removal re-reads the events appended after its plan)', async () => {
    const J = tmp.path('race');
    await buildPruningJournal(J, tmp.dir, { epochs: 12 });
    const w = await JournalWriter.openWriter(J, { create: false });
    let reused: Buffer | undefined;
    let content: Buffer | undefined;
    try {
      const r = await prune(w, {
        policy: { keepLast: 2 },
        beforeRemove: async (addrs) => {
          const sizes = await w.blobSizes(addrs);
          reused = addrs.find((_, i) => sizes[i] === PPS);
          assert.ok(reused, 'a page is about to go');
          content = (await w.blobs([reused]))[0]!;
          // The same page content comes back: given with the epoch (as record gives it), the store finds it stored and does not write it again.
          const e = w.nextEpochNumber;
          await w.commit([{ epochBegin: { epoch: e } }, { pages: { pfns: [300], addrs: reused } }, { epochCommit: { epoch: e } }], [{ addr: reused, data: content }]);
        },
      });
      assert.equal(r.collected!.removed.spared, 1);
      assert.deepEqual(await w.blobSizes([reused!]), [PPS]);
    } finally {
      await w.close();
    }
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    const out = tmp.path('head');
    await withJournal(J, (j) => fold(j, { at: 'head', out }));
    assert.deepEqual(readFileSync(join(out, 'memory.raw')).subarray(300 * PPS, 301 * PPS), content);
  });

  it('a batch that names a blob about to go without giving it either lands before the removal (and keeps it) or fails with TTJ_CORRUPT_BLOB, nothing appended; never a dangling name', async () => {
    const J = tmp.path('relies');
    await buildPruningJournal(J, tmp.dir, { epochs: 12 });
    const w = await JournalWriter.openWriter(J, { create: false });
    let pending: Promise<unknown> | undefined;
    let reused: Buffer | undefined;
    const headBefore = { seq: -1 };
    try {
      await prune(w, {
        policy: { keepLast: 2 },
        beforeRemove: async (addrs) => {
          const sizes = await w.blobSizes(addrs);
          reused = addrs.find((_, i) => sizes[i] === PPS)!;
          headBefore.seq = w.headSeqNumber;
          const e = w.nextEpochNumber;
          // Not awaited: it races with the removal.
          pending = w.commit([{ epochBegin: { epoch: e } }, { pages: { pfns: [301], addrs: reused } }, { epochCommit: { epoch: e } }]).then(
            () => 'landed',
            (err: unknown) => (isTtjError(err) ? err.code : err),
          );
        },
      });
      const outcome = await pending;
      if (outcome === 'landed') assert.deepEqual(await w.blobSizes([reused!]), [PPS]);
      else {
        assert.equal(outcome, ErrorCodes.CORRUPT_BLOB);
        assert.equal(w.headSeqNumber, headBefore.seq);
      }
    } finally {
      await w.close();
    }
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
  });

  it('a writer appending epochs (some reusing old page contents) while a prune runs in the same process: verify --deep passes, kept points fold as before, every new epoch folds to what was appended', async () => {
    const J = tmp.path('live');
    await buildPruningJournal(J, tmp.dir, { epochs: 16 });
    const points = (await everyPoint(J)).filter((p) => p.startsWith('epoch:') || p.startsWith('frame:'));
    const before = await foldPoints(J, tmp.dir, points);
    const w = await JournalWriter.openWriter(J, { create: false });
    const appended = new Map<number, Buffer>();
    try {
      const old = await withBlobsOfEpoch(w, 0);
      let stop = false;
      const writer = (async () => {
        for (let k = 0; !stop || k < 3; k++) {
          // Page 400 takes an old page's content back (a blob the prune may be dropping).
          const data = old[k % old.length]!;
          const e = w.nextEpochNumber;
          await w.commit([{ epochBegin: { epoch: e } }, { pages: { pfns: [400], addrs: sha256(data) } }, { epochCommit: { epoch: e } }], [{ addr: sha256(data), data }]);
          appended.set(e, data);
        }
      })();
      await prune(w, { policy: { keepLast: 3 } });
      stop = true;
      await writer;
    } finally {
      await w.close();
    }
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    const after = await foldPoints(J, tmp.dir, points);
    compareFolds(before, after, new Set([0]));
    for (const [e, data] of appended) {
      const out = tmp.path(`e${e}`);
      const r = await withJournal(J, (j): Promise<unknown> => fold(j, { at: `epoch:${e}`, out }).catch((err: unknown) => (isTtjError(err) ? err.code : err)));
      if (r === ErrorCodes.PRUNED) continue;
      assert.deepEqual(readFileSync(join(out, 'memory.raw')).subarray(400 * PPS, 401 * PPS), data);
    }
  });
});

/** The page contents (4 KiB blobs) that epoch `e`'s page events name. */
async function withBlobsOfEpoch(w: JournalWriter, e: number): Promise<Buffer[]> {
  const ep = (await w.epoch(e))!;
  const addrs: Buffer[] = [];
  for await (const batch of w.storedEvents(ep.beginSeq, ep.seq + 1)) {
    for (const { seq, bytes } of batch) {
      const ev = decodeEvent(bytes, seq);
      if (ev.body === 'pages') addrs.push(...splitAddrs(buf(ev.pages!.addrs)).slice(0, 8));
    }
  }
  return w.blobs(addrs);
}
