/**
 * Labelling a committed epoch, also one committed long ago (`ttj label --at`): the label
 * event, the index, label:TEXT, log, diff, verify, push and the errors a user meets.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isTtjError, type ErrorCode } from '../../src/errors.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { diff } from '../../src/journal/diff.js';
import { fold } from '../../src/journal/fold.js';
import { labelEpoch, labelJournal, MAX_LABEL_BYTES } from '../../src/journal/label.js';
import { log } from '../../src/journal/log.js';
import { prune } from '../../src/journal/prune.js';
import { push } from '../../src/journal/push.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { makeFramesJournal } from '../helpers/frames-journal.js';
import { rawAppend } from '../helpers/raw-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '..', '..', '..', 'test', 'fixtures', 'journal-0.1.0', 'journal');

const EPOCHS = 6;
const FPE = 2;

/** The labels of each epoch, as `ttj log` lists them. */
const labelsByEpoch = (J: string) => withJournal(J, async (j) => (await log(j)).epochs.map((e) => e.labels));
const headSeq = (J: string) => withJournal(J, async (j) => (await j.storeHead())!.seq);
const isCode = (code: ErrorCode) => (e: unknown) => isTtjError(e, code as never);

describe('labelling a committed epoch', function () {
  this.timeout(120000);
  const tmp = useTmp();
  let J: string;

  beforeEach(async () => {
    J = tmp.path('j');
    await makeFramesJournal(J, tmp.dir, { epochs: EPOCHS, framesPerEpoch: FPE, labels: { 4: 'bound' } });
  });

  it('labels epoch 0 and the epoch of a frame long after their commits: log, label:TEXT, the event, verify', async () => {
    const a = await labelJournal(J, { text: 'the very first', at: 'epoch:0' });
    const b = await labelJournal(J, { text: 'frame seven', at: 'frame:7' });
    // frame 7 follows the commit of epoch 3 (2 frames per epoch).
    assert.deepEqual([a.epoch, b.epoch, b.frame], [0, 3, 7]);
    assert.equal(b.seq, a.seq + 1);
    assert.equal(a.ranBy.pid, process.pid);
    const labels = await labelsByEpoch(J);
    assert.deepEqual(labels, [['the very first'], [], [], ['frame seven'], ['bound'], []]);
    await withJournal(J, async (j) => {
      // The stored events: the chosen epoch (0 is recorded by the flag, the value left out as proto3 does).
      const ev = await j.event(a.seq);
      assert.equal(ev.body, 'label');
      assert.deepEqual([ev.label!.text, Number(ev.label!.epoch), ev.label!.chosen], ['the very first', 0, true]);
      // A label bound by the writer (append --label) is written as before: no flag.
      const bound = (await j.label('bound'))!;
      assert.equal((await j.event(bound.seq)).label!.chosen, false);
      for (const [text, epoch] of [
        ['the very first', 0],
        ['frame seven', 3],
      ] as const) {
        const m = await fold(j, { at: `label:${text}`, out: tmp.path('l', String(epoch)) });
        const e = await fold(j, { at: `epoch:${epoch}`, out: tmp.path('e', String(epoch)) });
        assert.deepEqual([m.epoch, m.seq, m.stateRoot, m.label], [epoch, e.seq, e.stateRoot, text]);
      }
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      // diff lists a label at the epoch it names, not where it was appended.
      const d = await diff(j, { a: 'epoch:2', b: 'epoch:4' });
      assert.deepEqual(
        d.labels.map((l) => [l.text, l.epoch]),
        [
          ['frame seven', 3],
          ['bound', 4],
        ],
      );
      const d0 = await diff(j, { a: 'epoch:4', b: 'head' });
      assert.deepEqual(d0.labels, []);
    });
  });

  it('label:TEXT on two epochs names the newer epoch, whichever was labelled last', async () => {
    await labelJournal(J, { text: 'twice', at: 'epoch:5' });
    await labelJournal(J, { text: 'twice', at: 'epoch:1' });
    const m = await withJournal(J, (j) => fold(j, { at: 'label:twice', out: tmp.path('o') }));
    assert.equal(m.epoch, 5);
    assert.deepEqual((await labelsByEpoch(J))[1], ['twice']);
  });

  it('refuses bad input with a stable code and leaves the journal as it was', async () => {
    const before = await headSeq(J);
    const refused = async (opts: { text: string; at?: string }, code: ErrorCode) => {
      await assert.rejects(labelJournal(J, opts), isCode(code), JSON.stringify(opts));
      assert.equal(await headSeq(J), before, JSON.stringify(opts));
    };
    await refused({ text: '' }, ErrorCodes.BAD_ARGUMENT);
    await refused({ text: '  \t' }, ErrorCodes.BAD_ARGUMENT);
    await refused({ text: 'x'.repeat(MAX_LABEL_BYTES + 1) }, ErrorCodes.BAD_ARGUMENT);
    await refused({ text: 'ok', at: 'epoch:6' }, ErrorCodes.POINT_NOT_FOUND);
    await refused({ text: 'ok', at: `frame:${EPOCHS * FPE}` }, ErrorCodes.POINT_NOT_FOUND);
    await refused({ text: 'ok', at: `seq:${before + 1}` }, ErrorCodes.POINT_NOT_FOUND);
    await refused({ text: 'ok', at: 'label:nothing' }, ErrorCodes.POINT_NOT_FOUND);
    await refused({ text: 'ok', at: 'epoch:-1' }, ErrorCodes.BAD_POINT);
    await refused({ text: 'ok', at: 'tomorrow' }, ErrorCodes.BAD_POINT);
    // Before the first commit there is no epoch to label.
    await refused({ text: 'ok', at: 'seq:0' }, ErrorCodes.NO_EPOCH);
    await assert.rejects(labelJournal(tmp.path('none'), { text: 'ok' }), isCode(ErrorCodes.NOT_A_JOURNAL));
  });

  it('refuses a pruned epoch (TTJ_PRUNED), labels a kept one', async () => {
    const w = await JournalWriter.openWriter(J, { create: false });
    try {
      await prune(w, { policy: { keepLast: 2, keepLabelled: false } });
      const before = w.headSeqNumber;
      await assert.rejects(labelEpoch(w, { text: 'gone', at: 'epoch:1' }), (e: unknown) => isTtjError(e, ErrorCodes.PRUNED) && e.details.epoch === 1);
      assert.equal(w.headSeqNumber, before);
      assert.equal((await labelEpoch(w, { text: 'kept', at: 'epoch:4' })).epoch, 4);
    } finally {
      await w.close();
    }
    const v = await withJournal(J, (j) => verify(j));
    assert.equal(v.ok, true, JSON.stringify(v.error));
  });

  it('the writer refuses a chosen epoch not committed yet, or inside an epoch (an event stream)', async () => {
    const w = await JournalWriter.openWriter(J, { create: false });
    try {
      const before = w.headSeqNumber;
      const refused = (events: Parameters<typeof encodeEventStream>[0]) => assert.rejects(appendEventStream(w, encodeEventStream(events)), isCode(ErrorCodes.BAD_EVENT_STREAM));
      await refused([{ label: { text: 'future', epoch: EPOCHS, chosen: true } }]);
      await refused([{ epochBegin: { epoch: EPOCHS } }, { label: { text: 'inside', epoch: 1, chosen: true } }, { epochCommit: { epoch: EPOCHS } }]);
      assert.equal(w.headSeqNumber, before);
      // Through the same stream, a chosen epoch that is committed is taken.
      const r = await appendEventStream(w, encodeEventStream([{ label: { text: 'from a stream', epoch: 2, chosen: true } }]));
      assert.equal(Number((await w.event(r.lastSeq)).label!.epoch), 2);
    } finally {
      await w.close();
    }
    assert.deepEqual((await labelsByEpoch(J))[2], ['from a stream']);
  });

  it('verify finds a label naming an epoch not committed before it, or one the writer would not bind', async () => {
    const bad = async (name: string, label: { text: string; epoch: number; chosen?: boolean }) => {
      const K = tmp.path(name);
      cpSync(J, K, { recursive: true });
      await rawAppend(K, [{ label }], []);
      const v = await withJournal(K, (j) => verify(j));
      assert.equal(v.ok, false, name);
      assert.equal(v.error?.code, ErrorCodes.CORRUPT_EVENT, name);
    };
    await bad('future', { text: 'future', epoch: EPOCHS, chosen: true });
    await bad('unbound', { text: 'old style', epoch: 1 });
  });

  it('push replicates labels of old epochs byte for byte', async () => {
    await labelJournal(J, { text: 'zero', at: 'epoch:0' });
    const D = tmp.path('d');
    await withJournal(J, (j) => push(j, D));
    assert.deepEqual(await labelsByEpoch(D), await labelsByEpoch(J));
    const v = await withJournal(D, (j) => verify(j));
    assert.equal(v.ok, true, JSON.stringify(v.error));
  });

  it('a journal written by ttj 0.1.0 takes a label of an old epoch and still verifies; its labels keep their epochs', async () => {
    const K = tmp.path('old');
    cpSync(fixture, K, { recursive: true });
    const before = await labelsByEpoch(K);
    await labelJournal(K, { text: 'zero', at: 'epoch:0' });
    const after = await labelsByEpoch(K);
    assert.deepEqual([...after[0]!].sort(), [...before[0]!, 'zero'].sort());
    assert.deepEqual(after.slice(1), before.slice(1));
    await withJournal(K, async (j) => {
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      assert.equal((await fold(j, { at: 'label:zero', out: tmp.path('z') })).epoch, 0);
      assert.equal((await fold(j, { at: 'label:first', out: tmp.path('f') })).epoch, 0);
      assert.equal((await fold(j, { at: 'label:third', out: tmp.path('t') })).epoch, 2);
    });
  });
});
