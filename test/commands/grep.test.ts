import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Grep from '../../src/commands/grep.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { MARK, PS, writeGrepJournal } from '../helpers/grep-journal.js';
import { repoRoot, ttj } from '../helpers/run-ttj.js';
import { tmpDir } from '../helpers/tmp.js';

describe('ttj grep (CLI)', function () {
  let scratch = '';
  let J = '';
  before(async () => {
    scratch = tmpDir();
    J = join(scratch, 'j');
    await writeGrepJournal(J, scratch);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  describe('in-process', function () {
    let log: typeof console.log;
    const lines: string[] = [];
    beforeEach(() => {
      log = console.log;
      lines.length = 0;
      console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    });
    afterEach(() => {
      console.log = log;
    });

    it('returns the typed result with --json', async () => {
      const r = await Grep.run([J, '--text', MARK, '--memory', '--json'], repoRoot);
      const pfn3 = r.places.find((p) => p.offset === 3 * PS + 100)!;
      assert.equal(pfn3.where, 'memory');
      assert.equal(pfn3.page, 3);
      assert.deepEqual(
        pfn3.spans.map((s) => s.epochs),
        [
          { first: 0, last: 1 },
          { first: 4, last: 5 },
        ],
      );
      assert.ok(r.places.every((p) => p.where === 'memory'));
    });

    it('prints a table without --json', async () => {
      await Grep.run([J, '--hex', Buffer.from(MARK).toString('hex'), '--disk', 'd0'], repoRoot);
      assert.match(lines[0]!, /^3 places held the 13 bytes /);
      assert.match(lines[1]!, /^WHERE\s+OFFSET\s+PAGE\+OFF\s+EPOCHS\s+FIRST SEEN\s+LAST SEEN\s+REMOVED$/);
      assert.ok(lines.some((l) => /^disk d0\s+0x2fffc\s+2\+0xfffc \(crosses\)\s+1\.\.5\s+seq \d+ /.test(l)));
    });

    it('rejects bad patterns with BAD_ARGUMENT', async () => {
      for (const args of [['--text', ''], ['--hex', 'abc'], ['--hex', '00'], []]) {
        await assert.rejects(Grep.run([J, ...args, '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT), args.join(' '));
      }
    });
  });

  describe('as a subprocess', function () {
    it('prints JSON and exits 0; a bad pattern exits 2 with its code', () => {
      const ok = ttj(['grep', J, '--text', MARK, '--since', 'epoch:1', '--json']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.ok(ok.json.places.length > 0);
      assert.equal(ok.json.window.since > 0, true);
      const odd = ttj(['grep', J, '--hex', 'abc', '--json']);
      assert.equal(odd.status, 2);
      assert.equal(odd.json.error.code, ErrorCodes.BAD_ARGUMENT);
      const empty = ttj(['grep', J, '--text', '']);
      assert.equal(empty.status, 2);
      assert.match(empty.stderr, /\[TTJ_BAD_ARGUMENT\]/);
    });
  });
});
