import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import Prune from '../../src/commands/prune.js';
import { repoRoot, ttj } from '../helpers/run-ttj.js';
import { smallJournal } from '../helpers/small-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { quietConsole } from '../helpers/quiet-console.js';

const PAGE = 4096;

/**
 * A journal of 5 epochs of 4 pages (epoch e rewrites page e % 4 with its own content),
 * epoch 0 labelled "base": epoch 4 holds the pages of epochs 1..4, so dropping epochs
 * 0..3 frees only epoch 0's page.
 */
describe('ttj prune (in-process and as a subprocess)', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let J: string;
  beforeEach(async () => {
    J = tmp.path('j');
    await smallJournal(J, 5, { 0: ['base'] });
  });

  describe('in-process (Cmd.run)', function () {
    quietConsole();

    it('returns the typed plan: kept and dropped epochs with reasons, and the freed estimate', async () => {
      const p = await Prune.run([J, '--keep-last', '1', '--no-keep-labelled', '--dry-run', '--json'], repoRoot);
      assert.deepEqual(
        p.epochs.map((e) => [e.epoch, e.keep, e.reasons]),
        [
          [0, false, []],
          [1, false, []],
          [2, false, []],
          [3, false, []],
          [4, true, ['head', 'last']],
        ],
      );
      assert.deepEqual(p.freed, { blobs: 1, bytes: PAGE });
      const labelled = await Prune.run([J, '--keep-last', '1', '--dry-run', '--json'], repoRoot);
      assert.deepEqual(labelled.epochs[0]!.reasons, ['labelled']);
      assert.deepEqual(labelled.freed, { blobs: 0, bytes: 0 });
      const byLabel = await Prune.run([J, '--keep-label', 'base', '--keep-fork-point', 'epoch:2', '--no-keep-labelled', '--dry-run', '--json'], repoRoot);
      assert.deepEqual(
        byLabel.epochs.map((e) => e.reasons.join(',')),
        ['label', '', 'fork-point', '', 'head'],
      );
    });

    it('--keep-within takes a DURATION (d and w too); --keep-hourly and the other buckets take N', async () => {
      const p = await Prune.run([J, '--keep-within', '7d', '--dry-run', '--json'], repoRoot);
      assert.equal(p.kept.epochs, 5, 'all five were committed within a week of the newest');
      const h = await Prune.run([J, '--keep-hourly', '1', '--keep-weekly', '1', '--no-keep-labelled', '--dry-run', '--json'], repoRoot);
      assert.deepEqual(h.epochs[4]!.reasons.slice(0, 2), ['head', 'hourly']);
    });

    it('prunes: the typed result names the prune event and what was removed; a second run drops nothing more', async () => {
      const p = await Prune.run([J, '--keep-last', '1', '--no-keep-labelled', '--json'], repoRoot);
      assert.equal(p.dryRun, false);
      assert.equal(p.pruneSeq !== undefined, true);
      assert.deepEqual(p.collected!.removed, { blobs: 1, rawBytes: PAGE, spared: 0 });
      const again = await Prune.run([J, '--keep-last', '1', '--no-keep-labelled', '--json'], repoRoot);
      assert.equal(again.pruneSeq, undefined);
      assert.equal(again.prunedBefore, 4);
      assert.deepEqual(again.collected!.removed, { blobs: 0, rawBytes: 0, spared: 0 });
    });

    it('refuses with a code, the journal unchanged: no keep rule, a bad count or duration, a fork point that is not there', async () => {
      const head = () => ttj(['log', J, '--json']).json.head.seq as number;
      const before = head();
      const refused = async (args: string[], code: string) => assert.rejects(Prune.run([J, ...args, '--json'], repoRoot), (e) => isTtjError(e, code as never), args.join(' '));
      await refused([], ErrorCodes.BAD_ARGUMENT);
      await refused(['--keep-last', '0'], ErrorCodes.BAD_ARGUMENT);
      await refused(['--keep-last', '1', '--keep-fork-point', 'epoch:9'], ErrorCodes.POINT_NOT_FOUND);
      assert.equal(head(), before);
      assert.equal(ttj(['verify', J, '--json']).json.pruned, undefined);
      await refused(['--dry-run'], ErrorCodes.BAD_ARGUMENT);
      await refused(['--no-keep-labelled', '--keep-fork-point', 'epoch:1', '--dry-run'], ErrorCodes.BAD_ARGUMENT);
      await refused(['--keep-last', '0', '--dry-run'], ErrorCodes.BAD_ARGUMENT);
      await refused(['--keep-daily', 'many', '--dry-run'], ErrorCodes.BAD_ARGUMENT);
      await refused(['--keep-within', '1y', '--dry-run'], ErrorCodes.BAD_ARGUMENT);
      await refused(['--keep-last', '1', '--keep-fork-point', 'epoch:9', '--dry-run'], ErrorCodes.POINT_NOT_FOUND);
      await assert.rejects(Prune.run([tmp.path('nothing'), '--keep-last', '1', '--dry-run', '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.NOT_A_JOURNAL));
    });
  });

  describe('as a subprocess (exit codes and JSON)', function () {
    it('--dry-run exits 0 with the plan as JSON, and prints a table of epochs and the totals without --json', () => {
      const r = ttj(['prune', J, '--keep-last', '1', '--no-keep-labelled', '--dry-run', '--json']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.deepEqual(r.json.kept, { epochs: 1, frames: 0 });
      assert.deepEqual(r.json.dropped, { epochs: 4, frames: 0 });
      assert.equal(r.json.dryRun, true);
      assert.deepEqual(r.json.freed, { blobs: 1, bytes: PAGE }, 'epoch 4 holds the pages of epochs 1..4');
      const two = ttj(['prune', J, '--keep-last', '2', '--no-keep-labelled', '--dry-run', '--json']);
      assert.deepEqual(two.json.freed, { blobs: 0, bytes: 0 }, "epoch 3 still holds epoch 0's page");
      const text = ttj(['prune', J, '--keep-last', '2', '--dry-run']);
      assert.equal(text.status, 0, text.stderr);
      const lines = text.stdout.trim().split('\n');
      assert.equal(lines.length, 6, text.stdout);
      assert.match(lines[0]!, /^epoch +0 .* keep +labelled +"base"$/);
      assert.match(lines[1]!, /^epoch +1 .* drop$/);
      assert.match(lines[4]!, /^epoch +4 .* keep +head,last$/);
      assert.match(lines[5]!, /would keep 3 epochs .* drop 2 epochs .* free 0 blobs/);
    });

    it('without --dry-run it prunes: exit 0 and the result; a dropped epoch then folds to TTJ_PRUNED (exit 1), verify names the prune', () => {
      const text = ttj(['prune', J, '--keep-last', '2', '--no-keep-labelled']);
      assert.equal(text.status, 0, text.stdout + text.stderr);
      assert.match(text.stdout, /kept 2 epochs .* dropped 3 epochs .*prune event \d+/);
      assert.match(text.stdout, /removed 0 blobs/, "epoch 3 still holds epoch 0's page");
      const r = ttj(['prune', J, '--keep-last', '1', '--no-keep-labelled', '--json']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.json.prunedBefore, 3);
      assert.deepEqual(r.json.collected.removed, { blobs: 1, rawBytes: PAGE, spared: 0 }, "epoch 0's page goes with epoch 3");
      const f = ttj(['fold', J, '--at', 'epoch:3', '--out', tmp.path('f3'), '--json']);
      assert.equal(f.status, 1, f.stdout);
      assert.equal(f.json.error.code, ErrorCodes.PRUNED);
      assert.equal(f.json.error.epoch, 3);
      assert.equal(ttj(['fold', J, '--at', 'epoch:4', '--out', tmp.path('f4'), '--json']).status, 0);
      const v = ttj(['verify', J, '--deep', '--json']);
      assert.equal(v.status, 0, v.stdout);
      assert.deepEqual(
        v.json.pruned.map((p: { epochs: number[] }) => p.epochs),
        [[0, 1, 2], [3]],
      );
    });

    it('a policy without a keep rule exits 2; a journal that is not there exits 1 with TTJ_NOT_A_JOURNAL', () => {
      const r = ttj(['prune', J, '--dry-run', '--json']);
      assert.equal(r.status, 2, r.stdout);
      assert.equal(r.json.error.code, ErrorCodes.BAD_ARGUMENT);
      const n = ttj(['prune', tmp.path('nothing'), '--keep-last', '1', '--dry-run', '--json']);
      assert.equal(n.status, 1, n.stdout);
      assert.equal(n.json.error.code, ErrorCodes.NOT_A_JOURNAL);
    });
  });
});
