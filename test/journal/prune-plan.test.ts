import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { appendImages } from '../../src/journal/append-images.js';
import { prunePlan, unreferencedBlobs } from '../../src/journal/prune-plan.js';
import type { RetentionPolicy } from '../../src/journal/retention-policy.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';
import { png } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const PS = 4096;
/** A page or disk block filled with byte `b` (each letter below its own content, so its own blob). */
const fill = (b: number) => Buffer.alloc(PS, b);
const [A, B, C, D, E, F, G, H] = [1, 2, 3, 4, 5, 6, 7, 8].map(fill) as Buffer[];
const Z0 = Buffer.alloc(PS);
/** Disk blocks: X, Y, Z in images; T written and zeroed again between epochs 1 and 2; W written after the last epoch. */
const [X, Y, Z, T, W] = [0x21, 0x22, 0x23, 0x24, 0x25].map(fill) as Buffer[];
const DEV0 = Buffer.from('device state 0');
const DEV1 = Buffer.from('device state 1!');
const frames = [0, 1, 2, 3, 4].map((e) => png(4, 4, 100 + e));

/**
 * Five epochs of 8 pages of memory and a 4-block disk, a device state and a frame each
 * (epoch 0 labelled "base"):
 *
 * | epoch | memory        | disk d0  | device | frame |
 * | 0     | A B C 0 ...   | X 0 0 0  | DEV0   | f0    |
 * | 1     | A D C E ...   | X Y 0 0  | DEV1   | f1    |  then T written to block 3 and zeroed (outside epochs)
 * | 2     | A D F E ...   | Z Y 0 0  | (DEV1) | f2    |
 * | 3     | G D F B ...   | Z Y 0 0  | DEV0   | f3    |  B comes back (in another page)
 * | 4     | G H F B ...   | Z Y X 0  | (DEV0) | f4    |  X comes back; then W written to block 3 (outside epochs: the head's disk)
 */
async function buildJournal(dir: string, file: (name: string) => string): Promise<void> {
  const mem = [
    [A, B, C],
    [A, D, C, E],
    [A, D, F, E],
    [G, D, F, B],
    [G, H, F, B],
  ];
  const disk = [[X], [X, Y], [Z, Y], [Z, Y], [Z, Y, X]];
  const device = [DEV0, DEV1, undefined, DEV0, undefined];
  const pad = (pages: Buffer[], n: number) => Buffer.concat([...pages, ...Array<Buffer>(n - pages.length).fill(Z0)]);
  const rawWrite = (w: JournalWriter, block: Buffer | undefined) =>
    appendEventStream(
      w,
      encodeEventStream(
        block ? [{ blob: { data: block } }, { diskWrite: { disk: 'd0', offset: 3 * PS, length: PS, blocks: [0], addrs: sha256(block) } }] : [{ diskWrite: { disk: 'd0', offset: 3 * PS, length: PS, zeroBlocks: [0] } }],
      ),
    );
  const w = await JournalWriter.openWriter(dir);
  try {
    for (let e = 0; e < 5; e++) {
      writeFileSync(file('d0.img'), pad(disk[e]!, 4));
      await appendImages(w, {
        memory: pad(mem[e]!, 8),
        disks: [{ name: 'd0', path: file('d0.img') }],
        diskBlockSize: PS,
        device: device[e],
        frames: [frames[e]!],
        label: e === 0 ? 'base' : undefined,
      });
      if (e === 1) {
        await rawWrite(w, T);
        await rawWrite(w, undefined);
      }
    }
    await rawWrite(w, W);
  } finally {
    await w.close();
  }
}

const hexes = (bs: Buffer[]) => bs.map((b) => sha256(b).toString('hex')).sort();
const size = (bs: Buffer[]) => bs.reduce((n, b) => n + b.length, 0);

describe('prune plan: kept and dropped epochs, and the blobs that only dropped ones reference', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let J: string;
  beforeEach(async () => {
    J = tmp.path('j');
    await buildJournal(J, (n) => tmp.path(n));
  });

  const plan = (policy: RetentionPolicy, forkPoints?: string[]) => withJournal(J, (j) => prunePlan(j, { policy, forkPoints }));
  const unreferenced = (keep: boolean[]) => withJournal(J, async (j) => (await unreferencedBlobs(j, keep)).addrs.map((a) => a.toString('hex')).sort());

  it('keep-last 2 without labelled epochs: the blobs only epochs 0..2 reference go, also T (between dropped epochs); X, B and W stay', async () => {
    const p = await plan({ keepLast: 2, keepLabelled: false });
    assert.deepEqual(
      p.epochs.map((e) => [e.epoch, e.keep, e.reasons.join(','), e.frames]),
      [
        [0, false, '', [0]],
        [1, false, '', [1]],
        [2, false, '', [2]],
        [3, true, 'last', [3]],
        [4, true, 'head,last', [4]],
      ],
    );
    assert.deepEqual(p.kept, { epochs: 2, frames: 2 });
    assert.deepEqual(p.dropped, { epochs: 3, frames: 3 });
    const gone = [A, C, E, DEV1, frames[0]!, frames[1]!, frames[2]!, T];
    assert.deepEqual(await unreferenced([false, false, false, true, true]), hexes(gone));
    assert.deepEqual(p.freed, { blobs: gone.length, bytes: size(gone) });
    assert.equal(p.dryRun, true);
  });

  it('labelled epochs are kept by default: epoch 0 keeps A, C, X and DEV0', async () => {
    const p = await plan({ keepLast: 2 });
    assert.deepEqual(
      p.epochs.map((e) => e.reasons.join(',')),
      ['labelled', '', '', 'last', 'head,last'],
    );
    assert.deepEqual(p.epochs[0]!.labels, ['base']);
    const gone = [E, DEV1, frames[1]!, frames[2]!, T];
    assert.deepEqual(await unreferenced([true, false, false, true, true]), hexes(gone));
    assert.deepEqual(p.freed, { blobs: gone.length, bytes: size(gone) });
  });

  it('only the head kept: everything its state (with W) and its frame do not hold goes', async () => {
    const p = await plan({ keepLast: 1, keepLabelled: false });
    const gone = [A, C, D, E, DEV1, frames[0]!, frames[1]!, frames[2]!, frames[3]!, T];
    assert.deepEqual(p.freed, { blobs: gone.length, bytes: size(gone) });
    assert.deepEqual(await unreferenced([false, false, false, false, true]), hexes(gone));
  });

  it('nothing dropped, nothing freed: also T, between two kept epochs (seq points there still fold)', async () => {
    const p = await plan({ keepWithinMs: 3_600_000 });
    assert.deepEqual(p.dropped, { epochs: 0, frames: 0 });
    assert.deepEqual(p.freed, { blobs: 0, bytes: 0 });
    assert.deepEqual(await unreferenced([true, true, true, true, true]), []);
  });

  it('fork points (POINTs or bare seqs) keep their epochs: epochs 1 and 2 kept keep T and every page', async () => {
    const seq2 = await withJournal(J, async (j) => (await j.epoch(2))!.seq);
    const p = await plan({ keepLast: 1, keepLabelled: false }, ['frame:1', String(seq2)]);
    assert.deepEqual(
      p.epochs.map((e) => e.reasons.join(',')),
      ['', 'fork-point', 'fork-point', '', 'head,last'],
    );
    const gone = [frames[0]!, frames[3]!];
    assert.deepEqual(p.freed, { blobs: gone.length, bytes: size(gone) });
  });

  it('a kept epoch after a dropped one keeps its state but not what was written before it and overwritten (T goes with epoch 1)', async () => {
    const p = await plan({ keepLast: 1, keepLabelled: false }, ['epoch:2']);
    assert.deepEqual(
      p.epochs.map((e) => e.keep),
      [false, false, true, false, true],
    );
    const gone = [C, frames[0]!, frames[1]!, frames[3]!, T];
    assert.deepEqual(await unreferenced([false, false, true, false, true]), hexes(gone));
    assert.deepEqual(p.freed, { blobs: gone.length, bytes: size(gone) });
  });

  it('a fork point that names no epoch or nothing is refused', async () => {
    await assert.rejects(plan({ keepLast: 1 }, ['0']), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT), 'seq 0 is the header: no epoch there');
    await assert.rejects(plan({ keepLast: 1 }, ['epoch:99']), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
    await assert.rejects(plan({ keepLast: 1 }, ['nonsense']), (e) => isTtjError(e, ErrorCodes.BAD_POINT));
  });

  it('a policy without a keep rule is refused', async () => {
    await assert.rejects(plan({}), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });
});
