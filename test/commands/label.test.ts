/** `ttj label`: in-process (Cmd.run), as a subprocess (exit codes, --json), and through a live writer. */
import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import Label from '../../src/commands/label.js';
import { log } from '../../src/journal/log.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { makeFramesJournal } from '../helpers/frames-journal.js';
import { quietConsole } from '../helpers/quiet-console.js';
import { repoRoot, ttjAsync } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const labelsOf = (J: string) => withJournal(J, async (j) => (await log(j)).epochs.map((e) => e.labels));

describe('ttj label', function () {
  this.timeout(180000);
  const tmp = useTmp();
  quietConsole();
  let J: string;

  beforeEach(async () => {
    J = tmp.path('j');
    await makeFramesJournal(J, tmp.dir, { epochs: 4, framesPerEpoch: 2 });
  });

  it('in-process: labels the head by default and an old epoch with --at, returning the typed result', async () => {
    const head = await Label.run([J, 'newest', '--json'], repoRoot);
    assert.deepEqual([head.text, head.at, head.epoch], ['newest', 'head', 3]);
    const old = await Label.run([J, 'at frame 3', '--at', 'frame:3', '--json'], repoRoot);
    assert.deepEqual([old.epoch, old.frame, old.seq], [1, 3, head.seq + 1]);
    assert.deepEqual(await labelsOf(J), [[], ['at frame 3'], [], ['newest']]);
    await assert.rejects(Label.run([J, '', '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(Label.run([J, 'x', '--at', 'epoch:9', '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
  });

  it('as a subprocess: exit 0 with the JSON result; bad input exits non-zero with the code, the journal unchanged', async () => {
    const ok = await ttjAsync('label', J, 'boot done', '--at', 'epoch:0', '--json');
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([ok.json.text, ok.json.epoch, ok.json.at], ['boot done', 0, 'epoch:0']);
    const l = await ttjAsync('log', J, '--json');
    assert.deepEqual(l.json.epochs[0].labels, ['boot done']);
    const text = await ttjAsync('label', J, 'plain', '--at', 'frame:5');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^labelled epoch 2 \(frame:5\) "plain" \(event \d+\)$/m);
    const before = await labelsOf(J);
    for (const [args, code] of [
      [['   '], ErrorCodes.BAD_ARGUMENT],
      [['x', '--at', 'frame:99'], ErrorCodes.POINT_NOT_FOUND],
      [['x', '--at', 'seq:0'], ErrorCodes.NO_EPOCH],
      [['x', '--at', 'when'], ErrorCodes.BAD_POINT],
    ] as const) {
      const r = await ttjAsync('label', J, ...args, '--json');
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.json?.error?.code, code, r.stdout + r.stderr);
    }
    const missing = await ttjAsync('label', J, '--json');
    assert.notEqual(missing.code, 0);
    assert.deepEqual(await labelsOf(J), before);
    const nj = await ttjAsync('label', tmp.path('nothing'), 'x', '--json');
    assert.equal(nj.json.error.code, ErrorCodes.NOT_A_JOURNAL);
  });

  it('while a live writer holds the journal and appends, ttj label goes through that writer', async () => {
    const w = await JournalWriter.openWriter(J, { create: false, command: 'test writer (as ttj record)' });
    let stop = false;
    let appended = 0;
    try {
      const writer = (async () => {
        while (!stop) {
          await appendImages(w, { memory: Buffer.alloc(64 * 4096, appended + 1) });
          appended++;
        }
      })();
      const r = await ttjAsync('label', J, 'while recording', '--at', 'frame:2', '--json');
      const head = await ttjAsync('label', J, 'the head then', '--json');
      stop = true;
      await writer;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.json.ranBy.pid, process.pid);
      assert.equal(r.json.epoch, 1);
      assert.equal(head.code, 0, head.stdout + head.stderr);
      assert.ok(head.json.epoch >= 3);
      // A bad point is refused by the live writer with its code.
      const bad = await ttjAsync('label', J, 'x', '--at', 'epoch:999', '--json');
      assert.equal(bad.json?.error?.code, ErrorCodes.POINT_NOT_FOUND, bad.stdout + bad.stderr);
      const l = await ttjAsync('log', J, '--json');
      assert.deepEqual(l.json.epochs[1].labels, ['while recording']);
      assert.deepEqual(l.json.epochs[head.json.epoch].labels, ['the head then']);
    } finally {
      stop = true;
      await w.close();
    }
    assert.ok(appended > 0);
    const v = await ttjAsync('verify', J, '--json');
    assert.equal(v.json.ok, true, v.stdout);
  });
});
