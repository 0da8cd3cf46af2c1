import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blame, type BlameResult } from '../../src/journal/blame.js';
import { entryAt } from '../../src/journal/entry-at.js';
import { fold } from '../../src/journal/fold.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { sha } from '../helpers/images.js';
import { buildHistoryJournal, DISK_BS, DISK_SIZE, HPAGES, HPS, P, SMALL_SIZE, type History } from '../helpers/history-journal.js';
import { tmpDirWithCleanup } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const EPOCHS = 3;

describe('blame: every change of a page or block', function () {
  let dir: string;
  let cleanup: () => Promise<void>;
  let J: string;
  let h: History;
  /** Folds of epoch:0..2, then of the head (after the write outside an epoch). */
  const outs: string[] = [];

  before(async () => {
    ({ dir, cleanup } = await tmpDirWithCleanup('ttj-blame-'));
    J = join(dir, 'j');
    mkdirSync(join(dir, 'work'));
    h = await buildHistoryJournal(J, join(dir, 'work'));
    for (const at of [...Array.from({ length: EPOCHS }, (_, e) => `epoch:${e}`), 'head']) {
      const out = join(dir, `fold-${outs.length}`);
      await withJournal(J, (j) => fold(j, { at, out }));
      outs.push(out);
    }
  });
  after(() => cleanup());

  /** The bytes of [start, start + size) of `file` in each fold (all zero where the file is not there yet). */
  const history = (file: string, start: number, size: number) => outs.map((o) => (existsSync(join(o, file)) ? readFileSync(join(o, file)).subarray(start, start + size) : Buffer.alloc(size)));

  /** The changes blame must report, from the folds: each fold whose bytes differ from the one before (or from zero). */
  const expectedChanges = (versions: Buffer[]) => {
    const zero = Buffer.alloc(versions[0]!.length);
    const changes: { at: number; zero: boolean; addr?: string }[] = [];
    versions.forEach((v, i) => {
      if (!v.equals(i ? versions[i - 1]! : zero)) changes.push({ at: i, zero: v.equals(zero), addr: v.equals(zero) ? undefined : sha(v) });
    });
    return changes;
  };

  /** Blame's changes in the same terms: the fold they first show in (an epoch, or the head for a write outside an epoch). */
  const reported = (r: BlameResult) => r.changes.map((c) => ({ at: c.epoch ?? EPOCHS, zero: c.zero, addr: c.addr }));

  it('matches folding each epoch and reading the page, for pages that change, change back, swap, become zero or get content', async () => {
    for (const pfn of [...Object.values(P), 0, HPAGES - 1]) {
      const r = await withJournal(J, (j) => blame(j, { page: pfn }));
      assert.deepEqual(r.target, { kind: 'page', pfn, phys: pfn * HPS, size: HPS });
      const expected = expectedChanges(history('memory.raw', pfn * HPS, HPS));
      assert.deepEqual(reported(r), expected, `page ${pfn}`);
      for (const c of r.changes) {
        const ev = await withJournal(J, (j) => j.event(c.seq));
        assert.equal(ev.body, 'pages', `page ${pfn}: seq ${c.seq}`);
        assert.equal(new Date(Number(ev.timeUs) / 1000).toISOString(), c.time);
      }
    }
    const reverted = await withJournal(J, (j) => blame(j, { page: P.reverted }));
    assert.deepEqual(
      reverted.changes.map((c) => c.epoch),
      [0, 1, 2],
    );
    assert.equal(reverted.changes[2]!.addr, reverted.changes[0]!.addr);
    const untouched = await withJournal(J, (j) => blame(j, { page: P.untouched }));
    assert.deepEqual(
      untouched.changes.map((c) => c.epoch),
      [0],
    );
    // --phys names the page holding the address.
    const phys = await withJournal(J, (j) => blame(j, { phys: P.toZero * HPS + 123 }));
    assert.equal(phys.target.kind === 'page' && phys.target.pfn, P.toZero);
  });

  it('matches folding each point and reading the block, for disk blocks written at odd offsets, a short last block, and a write outside an epoch', async () => {
    const cases: [string, number, number, number][] = [
      ['d', 0, DISK_BS, DISK_SIZE],
      ['d', 65537, DISK_BS, DISK_SIZE],
      ['d', 2 * DISK_BS - 1, DISK_BS, DISK_SIZE],
      ['d', 2 * DISK_BS, DISK_BS, DISK_SIZE],
      ['d', 4 * DISK_BS + 5, DISK_BS, DISK_SIZE],
      ['d', DISK_SIZE - 1, DISK_BS, DISK_SIZE],
      ['d', 3 * DISK_BS, DISK_BS, DISK_SIZE],
      ['s', 4096 + 3, 4096, SMALL_SIZE],
      ['s', 0, 4096, SMALL_SIZE],
    ];
    for (const [disk, offset, bs, size] of cases) {
      const r = await withJournal(J, (j) => blame(j, { disk, offset }));
      const block = Math.floor(offset / bs);
      const start = block * bs;
      const len = Math.min(bs, size - start);
      assert.deepEqual(r.target, { kind: 'block', disk, block, offset: start, size: len });
      const versions = history(`disks/${disk}.raw`, start, len);
      // A block's address is that of the whole block (a short one zero-padded).
      const expected = expectedChanges(versions).map((c) => ({ ...c, addr: c.addr && sha(Buffer.concat([versions[c.at]!, Buffer.alloc(bs - len)])) }));
      assert.deepEqual(reported(r), expected, `disk ${disk} offset ${offset}`);
    }
    const outside = await withJournal(J, (j) => blame(j, { disk: 'd', offset: 10 }));
    const last = outside.changes[outside.changes.length - 1]!;
    assert.equal(last.seq, h.outsideSeq);
    assert.equal(last.epoch, null);
    // The nearest frame: frame 2 was appended right after epoch 2, just before the write.
    assert.equal(last.frame, 2);
    const block4 = await withJournal(J, (j) => blame(j, { disk: 'd', offset: 4 * DISK_BS }));
    assert.deepEqual(
      block4.changes.map((c) => [c.epoch, c.zero]),
      [
        [1, false],
        [2, true],
      ],
    );
  });

  it('names the frame nearest to each change', async () => {
    // Frames: 0 after epoch 1, 1 and 2 after epoch 2. A change in epoch 0 is nearest to frame 0, one in epoch 2 to frame 1.
    const r = await withJournal(J, (j) => blame(j, { page: P.reverted }));
    assert.deepEqual(
      r.changes.map((c) => c.frame),
      [0, 0, 1],
    );
  });

  it('shows the content at a point', async () => {
    await withJournal(J, async (j) => {
      const r = await blame(j, { page: P.swapA });
      const at1 = await entryAt(j, r.target, 'epoch:1');
      assert.deepEqual(at1.data, history('memory.raw', P.swapA * HPS, HPS)[1]);
      assert.equal(at1.addr, r.changes[1]!.addr);
      assert.equal(at1.epoch, 1);
      const z = await entryAt(j, (await blame(j, { page: P.toZero })).target, 'head');
      assert.equal(z.zero, true);
      assert.deepEqual(z.data, Buffer.alloc(HPS));
      const short = await entryAt(j, (await blame(j, { disk: 'd', offset: DISK_SIZE - 1 })).target, 'epoch:1');
      assert.equal(short.data.length, 1536);
      assert.equal(short.data[1535], 0x55);
      // Disk s does not exist at epoch 0: all zero.
      const s0 = await entryAt(j, (await blame(j, { disk: 's', offset: 0 })).target, 'epoch:0');
      assert.equal(s0.zero, true);
      assert.equal(s0.data.length, 4096);
    });
  });

  it('refuses a page past the end of memory, an unknown disk and an offset past its end (BAD_ARGUMENT)', async () => {
    await withJournal(J, async (j) => {
      for (const t of [{ page: HPAGES }, { phys: HPAGES * HPS }, { page: -1 }, { disk: 'nope', offset: 0 }, { disk: 'd', offset: DISK_SIZE }]) {
        await assert.rejects(blame(j, t), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT), JSON.stringify(t));
      }
    });
  });
});
