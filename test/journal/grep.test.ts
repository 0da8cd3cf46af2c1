import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { grep, type GrepResult } from '../../src/journal/grep.js';
import { PatternMatcher } from '../../src/journal/grep-pattern.js';
import { bruteForce, DISK_BLOCK, DISK_SIZE, EPOCHS, fromGrep, MARK, PS, writeGrepJournal } from '../helpers/grep-journal.js';
import { withJournal } from '../helpers/with-journal.js';
import { tmpDir } from '../helpers/tmp.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const ALL = Array.from({ length: EPOCHS }, (_, e) => e);
const mark = Buffer.from(MARK, 'latin1');

describe('grep: where and when a byte string was', function () {
  let scratch = '';
  let J = '';
  before(async () => {
    scratch = tmpDir();
    J = join(scratch, 'j');
    await writeGrepJournal(J, scratch);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  const run = (opts: Parameters<typeof grep>[1]) => withJournal(J, (j) => grep(j, opts));
  const place = (r: GrepResult, where: string, offset: number) => r.places.find((p) => (p.where === 'memory' ? 'memory' : `disk:${p.disk}`) === where && p.offset === offset);

  it('finds what folding every epoch and searching the files finds, across page and block boundaries', async () => {
    const r = await run({ text: MARK });
    assert.deepEqual(fromGrep(r, ALL), await bruteForce(J, scratch, mark, ALL));
    // The cases the journal was built for are there (so the comparison is not vacuous).
    const pfn3 = place(r, 'memory', 3 * PS + 100)!;
    assert.deepEqual(
      pfn3.spans.map((s) => s.epochs),
      [
        { first: 0, last: 1 },
        { first: 4, last: 5 },
      ],
    );
    assert.equal(pfn3.spans[0]!.removed?.epoch, 2);
    assert.equal(pfn3.spans[1]!.removed, undefined);
    assert.deepEqual(place(r, 'memory', 30 * PS + 500)!.spans[0]!.epochs, { first: 2, last: 5 });
    assert.deepEqual(place(r, 'memory', 10 * PS + 2000)!.spans[0]!.epochs, { first: 1, last: 3 });
    const cross = place(r, 'memory', 21 * PS - 5)!;
    assert.equal(cross.crosses, true);
    assert.equal(cross.page, 20);
    assert.deepEqual(
      cross.spans.map((s) => s.epochs),
      [
        { first: 1, last: 2 },
        { first: 4, last: 5 },
      ],
    );
    const diskCross = place(r, 'disk:d0', 3 * DISK_BLOCK - 4)!;
    assert.equal(diskCross.crosses, true);
    assert.deepEqual(diskCross.spans[0]!.epochs, { first: 1, last: 5 });
    assert.deepEqual(place(r, 'disk:d0', 70000)!.spans[0]!.epochs, { first: 0, last: 1 });
    assert.deepEqual(place(r, 'disk:d0', DISK_SIZE - mark.length)!.spans[0]!.epochs, { first: 3, last: 5 });
    // Memory content comes at its epoch's commit: first seen is that commit.
    const first = pfn3.spans[1]!.first;
    assert.equal(first.epoch, 4);
    assert.match(first.time, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(r.totalPlaces, r.places.length);
    assert.equal(r.truncated, false);
  });

  it('finds a match that starts in a zero page (never stored) and ends in the next one', async () => {
    const pattern = Buffer.concat([Buffer.alloc(2), mark.subarray(0, 4)]);
    const r = await run({ hex: pattern.toString('hex') });
    assert.deepEqual(fromGrep(r, ALL), await bruteForce(J, scratch, pattern, ALL));
    const z = place(r, 'memory', 41 * PS - 2)!;
    assert.equal(z.crosses, true);
    assert.deepEqual(z.spans[0]!.epochs, { first: 1, last: 5 });
  });

  it('--since and --until restrict the history, --memory and --disk the places', async () => {
    const window = [2, 3, 4];
    const r = await run({ text: MARK, since: 'epoch:2', until: 'epoch:4' });
    assert.deepEqual(fromGrep(r, ALL), new Map([...(await bruteForce(J, scratch, mark, ALL))].map(([e, s]) => [e, window.includes(e) ? s : new Set<string>()])));
    for (const p of r.places) for (const s of p.spans) assert.ok(s.first.epoch >= 2 && s.last.epoch <= 4, JSON.stringify(s));
    const pfn3 = place(r, 'memory', 3 * PS + 100)!;
    assert.deepEqual(
      pfn3.spans.map((s) => s.epochs),
      [{ first: 4, last: 4 }],
    );
    assert.equal(pfn3.spans[0]!.removed, undefined, 'still there at the window end');
    const mem = await run({ text: MARK, memory: true });
    assert.ok(mem.places.length > 0 && mem.places.every((p) => p.where === 'memory'));
    const disk = await run({ text: MARK, disk: 'd0' });
    assert.ok(disk.places.length > 0 && disk.places.every((p) => p.where === 'disk' && p.disk === 'd0'));
    const lim = await run({ text: MARK, limit: 2 });
    assert.equal(lim.places.length, 2);
    assert.equal(lim.truncated, true);
    assert.ok(lim.totalPlaces > 2);
  });

  it('finds nothing where nothing is', async () => {
    const r = await run({ text: 'not in the journal at all' });
    assert.equal(r.places.length, 0);
    assert.ok(r.searched.blobs > 0 && r.searched.bytes >= r.searched.blobs * PS);
  });

  it('refuses bad patterns and bad restrictions with BAD_ARGUMENT', async () => {
    const bad = [
      { text: '' },
      { hex: 'abc' },
      { hex: 'zz' },
      { hex: '' },
      { hex: '0000' },
      {},
      { text: 'a', hex: '61' },
      { text: 'x'.repeat(PS + 1) },
      { text: MARK, memory: true, disk: 'd0' },
      { text: MARK, disk: 'nope' },
    ];
    for (const opts of bad) await assert.rejects(run(opts), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT), JSON.stringify(opts));
    await assert.rejects(run({ text: MARK, since: 'epoch:4', until: 'epoch:2' }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(run({ text: MARK, since: 'nonsense' }), (e) => isTtjError(e, ErrorCodes.BAD_POINT));
  });
});

describe('grep pattern edges', function () {
  it('tail and head name every piece of the pattern at a blob edge', () => {
    const m = new PatternMatcher(Buffer.from('abab'));
    assert.deepEqual(m.tail(Buffer.from('xxxaba')), [3, 1]);
    assert.deepEqual(m.tail(Buffer.from('xxxab')), [2]);
    assert.deepEqual(m.tail(Buffer.from('xxxx')), []);
    assert.deepEqual(m.head(Buffer.from('babxxx')), [3, 1]);
    assert.deepEqual(m.head(Buffer.from('abxxx')), [2]);
    assert.deepEqual(m.matches(Buffer.from('ababab')), [0, 2]);
  });

  it('agrees with a direct check on random blobs', () => {
    let x = 12345;
    const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) % 3;
    for (let t = 0; t < 300; t++) {
      const p = Buffer.from(Array.from({ length: 1 + (t % 7) }, () => 97 + rand()));
      const b = Buffer.from(Array.from({ length: 12 }, () => 97 + rand()));
      const m = new PatternMatcher(p);
      const tails: number[] = [];
      const heads: number[] = [];
      for (let k = p.length - 1; k >= 1; k--) {
        if (b.subarray(b.length - k).equals(p.subarray(0, k))) tails.push(k);
        if (b.subarray(0, k).equals(p.subarray(p.length - k))) heads.push(k);
      }
      assert.deepEqual(m.tail(b), tails, `${p} ${b}`);
      assert.deepEqual(m.head(b), heads, `${p} ${b}`);
    }
  });
});
