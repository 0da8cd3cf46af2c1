import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Blame from '../../src/commands/blame.js';
import Diff from '../../src/commands/diff.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { buildHistoryJournal, DISK_BS, HPAGES, HPS, P, type History } from '../helpers/history-journal.js';
import { repoRoot, ttj } from '../helpers/run-ttj.js';
import { tmpDirWithCleanup } from '../helpers/tmp.js';
import { quietConsole } from '../helpers/quiet-console.js';

describe('ttj diff and ttj blame', function () {
  let dir: string;
  let cleanup: () => Promise<void>;
  let J: string;
  let h: History;
  before(async () => {
    ({ dir, cleanup } = await tmpDirWithCleanup('ttj-diff-cli-'));
    J = join(dir, 'j');
    mkdirSync(join(dir, 'work'));
    h = await buildHistoryJournal(J, join(dir, 'work'));
  });
  after(() => cleanup());

  describe('in-process (Cmd.run)', function () {
    quietConsole();

    it('diff returns the typed result, with --hex the bytes of at most --limit ranges', async () => {
      const d = await Diff.run([J, 'epoch:0', 'label:after', '--json'], repoRoot);
      assert.equal(d.a.epoch, 0);
      assert.equal(d.b.epoch, 2);
      assert.equal(d.b.label, 'after');
      assert.equal(d.hex, undefined);
      assert.ok(!d.memory!.ranges.some((r) => r.pfn <= P.reverted && P.reverted < r.pfn + r.pages));
      const x = await Diff.run([J, 'epoch:0', 'epoch:1', '--hex', '--limit', '3', '--json'], repoRoot);
      assert.equal(x.hex!.length, 3);
      await assert.rejects(Diff.run([J, 'epoch:0', 'nowhere', '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_POINT));
    });

    it('blame returns the changes, with --show the content at --at', async () => {
      const r = await Blame.run([J, '--phys', `0x${(P.swapB * HPS + 8).toString(16)}`, '--show', '--at', 'epoch:1', '--json'], repoRoot);
      assert.equal(r.target.kind === 'page' && r.target.pfn, P.swapB);
      assert.deepEqual(
        r.changes.map((c) => c.epoch),
        [0, 1],
      );
      assert.equal(r.show!.epoch, 1);
      assert.equal(r.show!.addr, r.changes[1]!.addr);
      assert.equal(r.show!.hex.length, 2 * HPS);
      const b = await Blame.run([J, '--disk', 'd', '--offset', '64K', '--json'], repoRoot);
      assert.equal(b.target.kind === 'block' && b.target.block, 1);
      await assert.rejects(Blame.run([J, '--page', String(HPAGES), '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
      await assert.rejects(Blame.run([J, '--page', '1', '--disk', 'd', '--offset', '0', '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    });
  });

  describe('as a subprocess (exit code + JSON)', function () {
    it('diff prints JSON, text and the hex side by side; exits 2 for a bad point', () => {
      const r = ttj(['diff', J, 'epoch:2', 'head', '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.json.memory.changedPages, 0);
      assert.deepEqual(r.json.disks.find((d: { name: string }) => d.name === 'd').ranges, [{ offset: 0, length: DISK_BS, blocks: 1 }]);
      const t = ttj(['diff', J, 'epoch:0', 'epoch:2', '--hex', '--limit', '1']);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout, /^memory: \d+ pages changed/m);
      assert.match(t.stdout, /^disk d \(64 KiB blocks\): 3 blocks changed \(129\.5 KiB\) in 2 ranges$/m);
      assert.match(t.stdout, /^device: changed/m);
      assert.match(t.stdout, /^frames between: 0\.\.0 \(1\)$/m);
      assert.match(t.stdout, /^labels between: "after" \(epoch 2\)$/m);
      assert.match(t.stdout, /^memory 0x[0-9a-f]+\.\.0x[0-9a-f]+: A \(left\), B \(right\)/m);
      assert.match(t.stdout, /^[0-9a-f]{8} {2}([0-9a-f]{2} ){15}[0-9a-f]{2} {2}\|.{16}\| {2}([0-9a-f]{2} ){15}[0-9a-f]{2} {2}\|.{16}\|$/m);
      assert.doesNotMatch(t.stdout, /^disk d 0x/m); // --limit 1: only the first range
      for (const [args, code, status] of [
        [['diff', J, 'epoch:x', 'head', '--json'], ErrorCodes.BAD_POINT, 2],
        [['diff', J, 'head', 'epoch:99', '--json'], ErrorCodes.POINT_NOT_FOUND, 1],
        [['diff', J, 'head', '--json'], ErrorCodes.BAD_ARGUMENT, 2],
        [['diff', join(dir, 'none'), 'head', 'head', '--json'], ErrorCodes.NOT_A_JOURNAL, 1],
      ] as [string[], string, number][]) {
        const e = ttj(args);
        assert.equal(e.status, status, `${args.join(' ')}: ${e.stdout} ${e.stderr}`);
        assert.equal(e.json?.error?.code, code, args.join(' '));
      }
    });

    it('blame prints the changes and a hex dump; exits 2 for a page past the end, a bad offset or point', () => {
      const r = ttj(['blame', J, '--disk', 'd', '--offset', '0', '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.json.changes.at(-1).seq, h.outsideSeq);
      assert.equal(r.json.changes.at(-1).epoch, null);
      const t = ttj(['blame', J, '--page', String(P.toZero), '--show', '--at', 'epoch:0']);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout, /^page 0x14 of memory \(physical 0x14000\.\.0x14fff\): 2 changes$/m);
      assert.match(t.stdout, /^ +\d+ +1 +\S+Z +0 +zero$/m);
      assert.match(t.stdout, /^at epoch:0 \(epoch 0, seq \d+\): [0-9a-f]{64}$/m);
      assert.match(t.stdout, /^00014000 {2}([0-9a-f]{2} ){15}[0-9a-f]{2} {2}\|.{16}\|$/m);
      assert.match(t.stdout, /^00015000$/m);
      for (const [args, code] of [
        [['blame', J, '--page', String(HPAGES), '--json'], ErrorCodes.BAD_ARGUMENT],
        [['blame', J, '--page', 'x', '--json'], ErrorCodes.BAD_ARGUMENT],
        [['blame', J, '--disk', 'd', '--offset', '1G', '--json'], ErrorCodes.BAD_ARGUMENT],
        [['blame', J, '--disk', 'd', '--json'], ErrorCodes.BAD_ARGUMENT],
        [['blame', J, '--json'], ErrorCodes.BAD_ARGUMENT],
        [['blame', J, '--page', '1', '--at', 'head', '--json'], ErrorCodes.BAD_ARGUMENT],
        [['blame', J, '--page', '1', '--show', '--at', 'frame:x', '--json'], ErrorCodes.BAD_POINT],
      ] as [string[], string][]) {
        const e = ttj(args);
        assert.equal(e.status, 2, `${args.join(' ')}: ${e.stdout} ${e.stderr}`);
        assert.equal(e.json?.error?.code, code, args.join(' '));
      }
    });
  });
});
