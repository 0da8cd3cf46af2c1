import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { decodeEvent, encodeEvent, type IEvent } from '../../src/journal/codec.js';
import { forkJournal } from '../../src/journal/fork.js';
import { verify } from '../../src/journal/verify.js';
import { VmState } from '../../src/journal/vm-state.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';
import { randomPage, rng } from '../helpers/images.js';
import { ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { foldDisk, withJournal } from '../helpers/with-journal.js';

const MiB = 1024 * 1024;
const SECTOR = 512;

/** A disk image of `size` bytes: random sectors here and there, the last sector always non-zero. */
function diskImage(size: number, seed: number): Buffer {
  const r = rng(seed);
  const img = Buffer.alloc(size);
  for (let s = 0; s < size / SECTOR; s++) if (r() % 7 === 0) randomPage(img.subarray(s * SECTOR, (s + 1) * SECTOR), r);
  randomPage(img.subarray(size - SECTOR), r);
  return img;
}

describe('disks that are a whole number of sectors but not of blocks (a short last block)', function () {
  this.timeout(60000);
  const tmp = useTmp();

  for (const [what, size, wanted, blockSize] of [
    ['3 MiB + 7 sectors, default block size', 3 * MiB + 7 * SECTOR, undefined, 64 * 1024],
    ['an ISO-like 2048-byte multiple, default block size', 523 * 2048, undefined, 64 * 1024],
    ['3 MiB + 7 sectors, 4 KiB blocks', 3 * MiB + 7 * SECTOR, 4096, 4096],
  ] as const) {
    it(`${what}: append, fold exactly, change the last sector, append again, fold every epoch`, async () => {
      const J = tmp.path('j');
      const img = diskImage(size, 7);
      writeFileSync(tmp.path('d.img'), img);
      const w = await JournalWriter.openWriter(J);
      try {
        await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }], diskBlockSize: wanted });
        const d = w.headState.disks.get('d')!;
        assert.equal(d.blockSize, blockSize);
        assert.equal(d.size, size);
        assert.equal(d.table.count, Math.ceil(size / blockSize));
        // The short last block is stored as a whole block, zeroes past the disk's end.
        const [last] = await w.blobs([d.table.get(d.table.count - 1)]);
        assert.equal(last!.length, blockSize);
        const tail = size - (d.table.count - 1) * blockSize;
        assert.ok(last!.subarray(0, tail).equals(img.subarray(size - tail)));
        assert.ok(last!.subarray(tail).equals(Buffer.alloc(blockSize - tail)));
        img.fill(0x5a, size - SECTOR);
        writeFileSync(tmp.path('d.img'), img);
        const r = await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }] });
        assert.equal(r.diskBlocks, 1);
      } finally {
        await w.close();
      }
      const e0 = await foldDisk(J, 'epoch:0', tmp.path('o0'), 'd');
      const e1 = await foldDisk(J, 'epoch:1', tmp.path('o1'), 'd');
      assert.equal(e0.length, size);
      assert.ok(e0.subarray(0, size - SECTOR).equals(img.subarray(0, size - SECTOR)));
      assert.notEqual(e0[size - 1], 0x5a);
      assert.ok(e1.equals(img), 'epoch 1 folds to the changed image');
      const m = JSON.parse(readFileSync(tmp.path('o1', 'manifest.json'), 'utf8'));
      assert.equal(m.disks[0].size, size);
      await withJournal(J, async (j) => assert.equal((await verify(j, { deep: true })).ok, true));
    });
  }

  it('ttj append and ttj fold (subprocesses): a 3 MiB + 7 sector disk is taken and folded exactly; a disk of 1000 bytes is SIZE_MISMATCH (exit 1)', () => {
    const size = 3 * MiB + 7 * SECTOR;
    const img = diskImage(size, 3);
    writeFileSync(tmp.path('d.img'), img);
    writeFileSync(tmp.path('odd.img'), Buffer.alloc(1000, 1));
    const a = ttj(['append', tmp.path('j'), '--disk', `d=${tmp.path('d.img')}`, '--json']);
    assert.equal(a.status, 0, a.stdout + a.stderr);
    const bad = ttj(['append', tmp.path('j'), '--disk', `odd=${tmp.path('odd.img')}`, '--json']);
    assert.equal(bad.status, 1);
    assert.equal(bad.json?.error?.code, ErrorCodes.SIZE_MISMATCH);
    const f = ttj(['fold', tmp.path('j'), '--out', tmp.path('o'), '--json']);
    assert.equal(f.status, 0, f.stdout + f.stderr);
    assert.deepEqual(
      f.json.disks.map((d: { size: number }) => d.size),
      [size],
    );
    assert.ok(readFileSync(tmp.path('o', 'disks', 'd.raw')).equals(img));
  });

  it('a fork of such a disk folds to the same bytes', async () => {
    const size = 3 * MiB + 7 * SECTOR;
    const img = diskImage(size, 11);
    writeFileSync(tmp.path('d.img'), img);
    const w = await JournalWriter.openWriter(tmp.path('j'));
    await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }] });
    await w.close();
    const fw = await withJournal(tmp.path('j'), async (j) => (await forkJournal(j, 'head', tmp.path('f'), 'test')).writer);
    await fw.close();
    assert.ok((await foldDisk(tmp.path('f'), 'head', tmp.path('o'), 'd')).equals(img));
  });

  it('a disk image that is not a whole number of sectors is refused, the journal unchanged', async () => {
    const J = tmp.path('j');
    writeFileSync(tmp.path('ok.img'), diskImage(4 * SECTOR, 1));
    const w = await JournalWriter.openWriter(J);
    try {
      await appendImages(w, { disks: [{ name: 'ok', path: tmp.path('ok.img') }] });
      const head = w.headSeqNumber;
      const packs = readdirSync(join(J, 'packs')).map((n) => `${n}:${statSync(join(J, 'packs', n)).size}`);
      writeFileSync(tmp.path('odd.img'), Buffer.alloc(3 * MiB + 100, 1));
      await assert.rejects(appendImages(w, { disks: [{ name: 'odd', path: tmp.path('odd.img') }] }), (e) => isTtjError(e, ErrorCodes.SIZE_MISMATCH));
      assert.equal(w.headSeqNumber, head);
      assert.deepEqual(
        readdirSync(join(J, 'packs')).map((n) => `${n}:${statSync(join(J, 'packs', n)).size}`),
        packs,
      );
    } finally {
      await w.close();
    }
  });

  it('disk writes from an event stream: whole blocks, or ending at the disk end; anything else is CORRUPT_EVENT and changes nothing', async () => {
    const J = tmp.path('j');
    const size = 2 * 4096 + 3 * SECTOR; // 4 KiB blocks: two whole, one of 1536 bytes
    const block = Buffer.alloc(4096, 0);
    block.fill(0x77, 0, 3 * SECTOR);
    const addr = sha256(block);
    const w = await JournalWriter.openWriter(J);
    try {
      await appendEventStream(w, encodeEventStream([{ diskCreate: { name: 'd', size, blockSize: 4096 } }]));
      const write = (offset: number, length: number) => encodeEventStream([{ blob: { data: block } }, { diskWrite: { disk: 'd', offset, length, blocks: [0], addrs: addr } }]);
      for (const [offset, length] of [
        [8192, 4096], // past the end
        [8192, 1024], // short, but not to the end
        [4096, 4096 + 3 * SECTOR + SECTOR], // past the end
        [8192 + SECTOR, 2 * SECTOR], // misaligned
      ] as const) {
        const head = w.headSeqNumber;
        await assert.rejects(appendEventStream(w, write(offset, length)), (e) => isTtjError(e, ErrorCodes.CORRUPT_EVENT), `${offset}+${length}`);
        assert.equal(w.headSeqNumber, head);
      }
      await appendEventStream(w, write(8192, 3 * SECTOR));
      await appendEventStream(w, write(4096, 4096 + 3 * SECTOR));
    } finally {
      await w.close();
    }
    const disk = await foldDisk(J, 'head', tmp.path('o'), 'd');
    const want = Buffer.alloc(size);
    want.fill(0x77, 4096, 4096 + 3 * SECTOR);
    want.fill(0x77, 8192, size);
    assert.ok(disk.equals(want));
  });

  it('the state root of a disk of whole blocks is what it always was', () => {
    const state = (sizeA: number) => {
      const s = new VmState(4096);
      const events: IEvent[] = [
        { memoryLayout: { size: 16 * 4096 } },
        { diskCreate: { name: 'a', size: sizeA, blockSize: 64 * 1024 } },
        { diskCreate: { name: 'b', size: 64 * 1024 } },
        { diskWrite: { disk: 'a', offset: 64 * 1024, length: 128 * 1024, blocks: [1], addrs: sha256(Buffer.from('x')) } },
        { diskWrite: { disk: 'b', offset: 4096, length: 4096, blocks: [0], addrs: sha256(Buffer.from('y')) } },
      ];
      events.forEach((e, i) => s.apply(decodeEvent(encodeEvent(e)), i + 1));
      return s.root().toString('hex');
    };
    // Computed by ttj before disks could have a short last block.
    assert.equal(state(MiB), GOLDEN_ROOT);
    // A short last block: the size is in the root (a disk one sector shorter has another root).
    assert.notEqual(state(MiB - SECTOR), GOLDEN_ROOT);
  });
});

const GOLDEN_ROOT = '820de62906f828a4aa8ddbc728372074f36f1c31456e81f92c623836e227334b';
