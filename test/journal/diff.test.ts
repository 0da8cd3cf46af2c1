import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diff, diffWithStates, type DiffResult } from '../../src/journal/diff.js';
import { diffHex } from '../../src/journal/diff-hex.js';
import { fold } from '../../src/journal/fold.js';
import { PageTable } from '../../src/journal/page-table.js';
import { changedRuns, type EntryRun } from '../../src/journal/table-diff.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { rng } from '../helpers/images.js';
import { buildHistoryJournal, DISK_BS, DISK_SIZE, HPAGES, HPS, P, SMALL_SIZE, type History } from '../helpers/history-journal.js';
import { tmpDirWithCleanup } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

/** Runs of `unit`-byte units (the last one may be short) where `a` and `b` differ. */
function differingRuns(a: Buffer, b: Buffer, unit: number): EntryRun[] {
  assert.equal(a.length, b.length);
  const runs: EntryRun[] = [];
  for (let i = 0; i * unit < a.length; i++) {
    const s = i * unit;
    const e = Math.min(a.length, s + unit);
    if (a.subarray(s, e).equals(b.subarray(s, e))) continue;
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === i) last.count++;
    else runs.push({ first: i, count: 1 });
  }
  return runs;
}

describe('diff: what changed between two points', function () {
  let dir: string;
  let cleanup: () => Promise<void>;
  let J: string;
  let h: History;
  const folds = new Map<string, string>();
  /** The fold of `point` (made once). */
  const folded = async (point: string) => {
    const had = folds.get(point);
    if (had) return had;
    const out = join(dir, `fold-${folds.size}`);
    await withJournal(J, (j) => fold(j, { at: point, out }));
    folds.set(point, out);
    return out;
  };
  const file = (out: string, name: string, size: number) => (existsSync(join(out, name)) ? readFileSync(join(out, name)) : Buffer.alloc(size));

  before(async () => {
    ({ dir, cleanup } = await tmpDirWithCleanup('ttj-diff-'));
    J = join(dir, 'j');
    mkdirSync(join(dir, 'work'));
    h = await buildHistoryJournal(J, join(dir, 'work'));
  });
  after(() => cleanup());

  it('equals folding both points and comparing the files byte by byte, for every pair of points', async () => {
    const points = ['epoch:0', 'epoch:1', 'frame:1', 'label:after', `seq:${h.outsideSeq - 1}`, 'head'];
    for (const a of points) {
      for (const b of points) {
        const d = await withJournal(J, (j) => diff(j, { a, b }));
        const fa = await folded(a);
        const fb = await folded(b);
        const what = `${a} -> ${b}`;
        const ma = file(fa, 'memory.raw', HPAGES * HPS);
        const mb = file(fb, 'memory.raw', HPAGES * HPS);
        assert.deepEqual(
          d.memory!.ranges.map((r) => ({ first: r.pfn, count: r.pages })),
          differingRuns(ma, mb, HPS),
          `${what}: memory`,
        );
        for (const r of d.memory!.ranges) assert.equal(r.bytes, r.pages * HPS);
        assert.equal(
          d.memory!.changedPages,
          d.memory!.ranges.reduce((n, r) => n + r.pages, 0),
        );
        const zero = Buffer.alloc(HPS);
        const isZero = (m: Buffer, p: number) => m.subarray(p * HPS, (p + 1) * HPS).equals(zero);
        const changed = d.memory!.ranges.flatMap((r) => Array.from({ length: r.pages }, (_, k) => r.pfn + k));
        assert.equal(d.memory!.fromZero, changed.filter((p) => isZero(ma, p)).length, `${what}: pages that were zero`);
        assert.equal(d.memory!.toZero, changed.filter((p) => isZero(mb, p)).length, `${what}: pages that became zero`);
        for (const [name, size, bs] of [
          ['d', DISK_SIZE, DISK_BS],
          ['s', SMALL_SIZE, 4096],
        ] as const) {
          const disk = d.disks.find((x) => x.name === name);
          // A disk that exists at neither point is not listed.
          if (!disk) assert.ok(!existsSync(join(fa, `disks/${name}.raw`)) && !existsSync(join(fb, `disks/${name}.raw`)), `${what}: disk ${name}`);
          if (!disk) continue;
          assert.equal(disk.blockSize, bs);
          const expected = differingRuns(file(fa, `disks/${name}.raw`, size), file(fb, `disks/${name}.raw`, size), bs);
          assert.deepEqual(
            disk.ranges.map((r) => ({ first: r.offset / bs, count: r.blocks })),
            expected,
            `${what}: disk ${name}`,
          );
          for (const r of disk.ranges) assert.equal(r.length, Math.min(r.blocks * bs, size - r.offset), `${what}: disk ${name} range ${r.offset}`);
        }
        assert.equal(d.device.changed, !file(fa, 'device.bin', 0).equals(file(fb, 'device.bin', 0)), `${what}: device`);
      }
    }
  });

  it('compares content, not history: a page changed and changed back is no difference; swapped pages, pages becoming zero and zero pages getting content are', async () => {
    const d01 = await withJournal(J, (j) => diff(j, { a: 'epoch:0', b: 'epoch:1' }));
    const d02 = await withJournal(J, (j) => diff(j, { a: 'epoch:0', b: 'epoch:2' }));
    const pfns = (d: DiffResult) => d.memory!.ranges.flatMap((r) => Array.from({ length: r.pages }, (_, k) => r.pfn + k));
    assert.ok(pfns(d01).includes(P.reverted));
    assert.deepEqual(pfns(d02), [P.swapA, P.swapB, P.toZero, P.fromZero, P.late, P.chunk2, P.chunk2 + 1]);
    assert.deepEqual(d02.memory!.ranges[0], { pfn: P.swapA, pages: 2, bytes: 2 * HPS });
    assert.ok(d02.memory!.fromZero >= 1);
    assert.equal(d02.memory!.toZero, 1);
    // Block 4 of disk d changed in epoch 1 and back in epoch 2; the odd-offset writes stay.
    const disk = (d: DiffResult, n: string) => d.disks.find((x) => x.name === n)!;
    assert.deepEqual(
      disk(d01, 'd').ranges.map((r) => [r.offset, r.length]),
      [
        [DISK_BS, 2 * DISK_BS],
        [4 * DISK_BS, DISK_BS + 1536],
      ],
    );
    assert.deepEqual(
      disk(d02, 'd').ranges.map((r) => [r.offset, r.length]),
      [
        [DISK_BS, 2 * DISK_BS],
        [5 * DISK_BS, 1536],
      ],
    );
    assert.equal(disk(d02, 's').onlyIn, 'b');
    assert.equal(disk(d02, 's').changedBlocks, 1);
    assert.equal(d02.device.changed, true);
    // The same state on both sides: nothing.
    const same = await withJournal(J, (j) => diff(j, { a: 'epoch:1', b: 'epoch:1' }));
    assert.equal(same.memory!.changedPages, 0);
    assert.ok(same.disks.every((x) => x.changedBlocks === 0 && x.ranges.length === 0));
    assert.equal(same.device.changed, false);
    // A disk write outside an epoch: seq points see it, memory does not move.
    const out = await withJournal(J, (j) => diff(j, { a: 'epoch:2', b: 'head' }));
    assert.equal(out.memory!.changedPages, 0);
    assert.deepEqual(disk(out, 'd').ranges, [{ offset: 0, length: DISK_BS, blocks: 1 }]);
  });

  it('lists the frames and labels between the points, whichever comes first', async () => {
    for (const [a, b] of [
      ['epoch:0', 'epoch:2'],
      ['epoch:2', 'epoch:0'],
    ]) {
      const d = await withJournal(J, (j) => diff(j, { a: a!, b: b! }));
      assert.deepEqual(
        d.frames.map((f) => f.frame),
        [0],
        `${a} ${b}`,
      );
      assert.deepEqual(
        d.labels.map((l) => [l.text, l.epoch]),
        [['after', 2]],
      );
    }
    const d = await withJournal(J, (j) => diff(j, { a: 'epoch:1', b: 'head' }));
    assert.deepEqual(
      d.frames.map((f) => f.frame),
      [0, 1, 2],
    );
  });

  it('shows the bytes of the changed rows at A and B (--hex), bounded by the range limit', async () => {
    const { a, b } = { a: 'epoch:0', b: 'epoch:1' };
    const fa = await folded(a);
    const fb = await folded(b);
    await withJournal(J, async (j) => {
      const { result, states } = await diffWithStates(j, { a, b });
      const all = result.memory!.ranges.length + result.disks.reduce((n, d) => n + d.ranges.length, 0);
      assert.equal((await diffHex(j, result, states, 2)).length, 2);
      const hex = await diffHex(j, result, states, 100);
      assert.equal(hex.length, all);
      for (const r of hex) {
        const [src, size] = r.where === 'memory' ? ['memory.raw', HPAGES * HPS] : [`disks/${r.where.disk}.raw`, r.where.disk === 'd' ? DISK_SIZE : SMALL_SIZE];
        const ba = file(fa, src, size);
        const bb = file(fb, src, size);
        assert.ok(r.rows.length > 0);
        for (const row of r.rows) {
          assert.equal(row.a, ba.subarray(row.offset, row.offset + 16).toString('hex'));
          assert.equal(row.b, bb.subarray(row.offset, row.offset + 16).toString('hex'));
          assert.notEqual(row.a, row.b);
        }
      }
      // The byte at 65537 of disk d: one row, its first.
      const d1 = hex.find((r) => r.where !== 'memory' && r.where.disk === 'd')!;
      assert.equal(d1.rows[0]!.offset, 65536);
      assert.equal(d1.rows[0]!.b.slice(2, 4), '07');
      // The short last block's row ends at the disk's end.
      const last = hex.filter((r) => r.where !== 'memory' && r.where.disk === 'd').pop()!;
      const lastRow = last.rows[last.rows.length - 1]!;
      assert.ok(lastRow.offset + lastRow.a.length / 2 <= DISK_SIZE);
    });
  });

  it('refuses a bad point (BAD_POINT) and a missing one (POINT_NOT_FOUND)', async () => {
    await withJournal(J, async (j) => {
      await assert.rejects(diff(j, { a: 'epoch:x', b: 'head' }), (e) => isTtjError(e, ErrorCodes.BAD_POINT));
      await assert.rejects(diff(j, { a: 'head', b: 'epoch:9' }), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
    });
  });
});

describe('changedRuns: page tables compared by their Merkle chunks', function () {
  it('finds exactly the differing entries, reading only the chunks whose hashes differ', () => {
    const r = rng(5);
    const count = 4 * 1024 + 300;
    const a = new PageTable(count);
    for (let i = 0; i < count; i += 3) a.set(i, Buffer.alloc(32, (r() % 255) + 1));
    const b = a.clone();
    const changed = [5, 6, 7, 1023, 1024, 3 * 1024 + 299, 4 * 1024 + 299];
    for (const i of changed) b.set(i, Buffer.alloc(32, 0xee));
    b.setZero(4096 + 3); // non-zero in a (a multiple of 3)
    const read = new Set<number>();
    for (const t of [a, b]) {
      const chunk = t.chunk.bind(t);
      t.chunk = (c: number) => (read.add(c), chunk(c));
    }
    const runs = changedRuns(a, b, count);
    const brute: number[] = [];
    for (let i = 0; i < count; i++) if (!a.get(i).equals(b.get(i))) brute.push(i);
    assert.deepEqual(
      runs.flatMap((x) => Array.from({ length: x.count }, (_, k) => x.first + k)),
      brute,
    );
    assert.deepEqual(runs.slice(0, 2), [
      { first: 5, count: 3 },
      { first: 1023, count: 2 },
    ]);
    // Chunk 2 is equal at both sides: compared by its hash only.
    assert.ok(!read.has(2), `chunks read: ${[...read].join(',')}`);
    // An absent table is all zero.
    assert.deepEqual(changedRuns(undefined, undefined, count), []);
    assert.equal(
      changedRuns(undefined, a, count).reduce((n, x) => n + x.count, 0),
      a.nonZero(),
    );
  });
});
