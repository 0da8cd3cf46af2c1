import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { log } from '../../src/journal/log.js';
import { KEYFRAME_MAX_EPOCHS } from '../../src/journal/writer.js';
import { dirty, memoryImage, png, rng, sha } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';

const PS = 4096;

describe('journal round trip with generated images', function () {
  const tmp = useTmp();

  it('folds every epoch and every frame back to the bytes that were appended', async () => {
    const J = tmp.path('j');
    const mem = memoryImage(512, PS, 1);
    const d0 = memoryImage(64, PS, 2);
    const d1 = Buffer.alloc(256 * PS);
    let device = randomBytes(20000);
    const expected: { mem: string; d0: string; d1: string; dev: string }[] = [];
    const frames: string[] = [];
    const w = await JournalWriter.openWriter(J);
    try {
      for (let e = 0; e < 10; e++) {
        if (e > 0) {
          dirty(mem, PS, 25, 100 + e);
          dirty(d0, PS, 3, 200 + e);
          d1.write(`epoch ${e} block`, ((e * 7) % 256) * PS);
          device = Buffer.from(device);
          device.writeUInt32LE(e, 100); // one chunk of the device state changes
        }
        writeFileSync(tmp.path('mem.raw'), mem);
        writeFileSync(tmp.path('d0.img'), d0);
        writeFileSync(tmp.path('d1.img'), d1);
        writeFileSync(tmp.path('dev.bin'), device);
        const framePaths: string[] = [];
        for (let f = 0; f < 1 + (e % 2); f++) {
          const p = png(32 + f, 24, e * 10 + f);
          const fp = tmp.path(`f${e}-${f}.png`);
          writeFileSync(fp, p);
          framePaths.push(fp);
          frames.push(sha(p));
        }
        const r = await appendImages(w, {
          memory: tmp.path('mem.raw'),
          disks: [
            { name: 'd0', path: tmp.path('d0.img') },
            { name: 'd1', path: tmp.path('d1.img') },
          ],
          device: tmp.path('dev.bin'),
          frames: framePaths,
          label: e === 4 ? 'before upgrade' : undefined,
        });
        assert.equal(r.epoch, e);
        expected.push({ mem: sha(mem), d0: sha(d0), d1: sha(d1), dev: sha(device) });
      }
    } finally {
      await w.close();
    }

    const j = await Journal.open(J);
    try {
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      assert.equal(v.epochs, 10);
      assert.equal(v.frames, frames.length);
      for (let e = 0; e < 10; e++) {
        const out = tmp.path(`out-e${e}`);
        const m = await fold(j, { at: `epoch:${e}`, out });
        assert.equal(m.epoch, e);
        assert.equal(sha(readFileSync(`${out}/memory.raw`)), expected[e]!.mem, `memory at epoch ${e}`);
        assert.equal(sha(readFileSync(`${out}/disks/d0.raw`)), expected[e]!.d0, `d0 at epoch ${e}`);
        assert.equal(sha(readFileSync(`${out}/disks/d1.raw`)), expected[e]!.d1, `d1 at epoch ${e}`);
        assert.equal(sha(readFileSync(`${out}/device.bin`)), expected[e]!.dev, `device at epoch ${e}`);
        const manifest = JSON.parse(readFileSync(`${out}/manifest.json`, 'utf8'));
        assert.equal(manifest.epoch, e);
        assert.match(manifest.stateRoot, /^[0-9a-f]{64}$/);
      }
      const l = await log(j);
      for (const f of l.frames) {
        const out = tmp.path(`out-f${f.frame}`);
        const m = await fold(j, { at: `frame:${f.frame}`, out });
        assert.equal(m.epoch, f.epoch);
        assert.equal(sha(readFileSync(`${out}/frame.png`)), frames[f.frame], `frame ${f.frame}`);
        assert.equal(sha(readFileSync(`${out}/memory.raw`)), expected[f.epoch]!.mem, `memory at frame ${f.frame}`);
        assert.ok(readdirSync(out).every((n) => !n.endsWith('.partial')));
      }
      const byLabel = await fold(j, { at: 'label:before upgrade', out: tmp.path('out-label') });
      assert.equal(byLabel.epoch, 4);
      assert.deepEqual(l.epochs[4]!.labels, ['before upgrade']);
      const head = await fold(j, { at: 'head', out: tmp.path('out-head') });
      assert.equal(head.epoch, 9);
      const t = l.epochs[6]!.time;
      const byTime = await fold(j, { at: `time:${t}`, out: tmp.path('out-time') });
      assert.equal(byTime.epoch, 6);
      assert.equal(l.head.epoch, 9);
      assert.equal(l.head.frame, frames.length - 1);
    } finally {
      await j.close();
    }
  });

  it('stores zero pages not at all and identical content once', async () => {
    const J = tmp.path('j');
    const img = Buffer.alloc(64 * PS);
    const page = Buffer.alloc(PS, 'x');
    for (const p of [3, 9, 20, 40]) page.copy(img, p * PS); // four identical pages
    writeFileSync(tmp.path('m.raw'), img);
    writeFileSync(tmp.path('d.img'), img); // the same content on a disk
    const w = await JournalWriter.openWriter(J);
    try {
      // Disk blocks of one page, so the disk's table equals the memory's.
      const r = await appendImages(w, { memory: tmp.path('m.raw'), disks: [{ name: 'd', path: tmp.path('d.img') }], diskBlockSize: PS });
      assert.equal(r.dirtyPages, 4);
      const stats = await w.storeStats();
      // One page blob; the keyframe's one table chunk, identical for memory and
      // disk (same content at the same places), stored once; the keyframe JSON.
      assert.equal(stats.blobs, 3);
      assert.ok(stats.rawBytes < 2 * PS + 64 * 32, `raw bytes ${stats.rawBytes}`);
      const again = await appendImages(w, { memory: tmp.path('m.raw') });
      assert.equal(again.dirtyPages, 0);
      assert.equal(again.newBlobs, 0);
    } finally {
      await w.close();
    }
  });

  it('binds a frame-only append to the last committed epoch, and folds disks exactly at seq:N', async () => {
    const J = tmp.path('j');
    const disk = Buffer.alloc(16 * PS);
    writeFileSync(tmp.path('d.img'), disk);
    const w = await JournalWriter.openWriter(J);
    let seqAfterFirst: number;
    try {
      const r0 = await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }], diskBlockSize: PS });
      seqAfterFirst = r0.lastSeq;
      writeFileSync(tmp.path('f.png'), png(8, 8, 1));
      const rf = await appendImages(w, { frames: [tmp.path('f.png')] });
      assert.equal(rf.frames[0]!.epoch, 0);
      // a disk write outside an epoch (as the NBD server appends them)
      const block = Buffer.alloc(PS, 7);
      const { sha256 } = await import('../../src/util/hash.js');
      const addr = sha256(block);
      await w.commit([{ diskWrite: { disk: 'd', offset: 2 * PS, length: PS, blocks: [0], addrs: addr } }], [{ addr, data: block }]);
    } finally {
      await w.close();
    }
    const j = await Journal.open(J);
    try {
      const before = await fold(j, { at: `seq:${seqAfterFirst}`, out: tmp.path('a') });
      assert.equal(before.epoch, 0);
      assert.ok(readFileSync(tmp.path('a', 'disks', 'd.raw')).equals(disk));
      const after = await fold(j, { at: 'head', out: tmp.path('b') });
      assert.equal(after.epoch, 0);
      const want = Buffer.from(disk);
      want.fill(7, 2 * PS, 3 * PS);
      assert.ok(readFileSync(tmp.path('b', 'disks', 'd.raw')).equals(want));
    } finally {
      await j.close();
    }
  });

  it('gives a disk 64 KiB blocks by default (fewer when its size asks), refuses misaligned writes, and folds it exactly', async () => {
    const J = tmp.path('j');
    const disk = Buffer.alloc(40 * PS); // 160 KiB: 32 KiB blocks
    disk.fill(3, 5 * PS, 6 * PS);
    writeFileSync(tmp.path('d.img'), disk);
    const big = Buffer.alloc(64 * PS); // 256 KiB: 64 KiB blocks
    big.fill(9, 20 * PS, 21 * PS);
    writeFileSync(tmp.path('e.img'), big);
    const w = await JournalWriter.openWriter(J);
    try {
      const r = await appendImages(w, {
        disks: [
          { name: 'd', path: tmp.path('d.img') },
          { name: 'e', path: tmp.path('e.img') },
        ],
      });
      assert.equal(w.headState.disks.get('d')!.blockSize, 32 * 1024);
      assert.equal(w.headState.disks.get('e')!.blockSize, 64 * 1024);
      assert.equal(r.diskBlocks, 2); // one changed block per disk
      await assert.rejects(appendImages(w, { disks: [{ name: 'x', path: tmp.path('e.img') }], diskBlockSize: 3 * PS }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
      const block = Buffer.alloc(64 * 1024, 5);
      const { sha256 } = await import('../../src/util/hash.js');
      const addr = sha256(block);
      const before = await w.storeHead();
      await assert.rejects(w.commit([{ diskWrite: { disk: 'e', offset: PS, length: 64 * 1024, blocks: [0], addrs: addr } }], [{ addr, data: block }]), (e) => isTtjError(e, ErrorCodes.CORRUPT_EVENT));
      assert.equal((await w.storeHead())!.seq, before!.seq);
      await w.commit([{ diskWrite: { disk: 'e', offset: 128 * 1024, length: 64 * 1024, blocks: [0], addrs: addr } }], [{ addr, data: block }]);
    } finally {
      await w.close();
    }
    const j = await Journal.open(J);
    try {
      await fold(j, { at: 'head', out: tmp.path('o') });
      assert.ok(readFileSync(tmp.path('o', 'disks', 'd.raw')).equals(disk));
      const want = Buffer.from(big);
      want.fill(5, 128 * 1024, 192 * 1024);
      assert.ok(readFileSync(tmp.path('o', 'disks', 'e.raw')).equals(want));
      assert.equal((await verify(j)).ok, true);
    } finally {
      await j.close();
    }
  });

  it('folds any of hundreds of epochs from a keyframe, replaying a bounded number of events', async () => {
    const J = tmp.path('j');
    const mem = memoryImage(256, PS, 7);
    const shas: string[] = [];
    const w = await JournalWriter.openWriter(J);
    const r = rng(5);
    try {
      for (let e = 0; e < 200; e++) {
        const p = r() % 256;
        mem.write(`epoch ${e}`, p * PS + 100);
        writeFileSync(tmp.path('m.raw'), mem);
        await appendImages(w, { memory: tmp.path('m.raw') });
        shas.push(sha(mem));
      }
    } finally {
      await w.close();
    }
    const j = await Journal.open(J);
    try {
      const l = await log(j);
      const keyframes = l.epochs.filter((e) => e.keyframe).length;
      assert.ok(keyframes >= Math.floor(200 / KEYFRAME_MAX_EPOCHS), `keyframes: ${keyframes}`);
      for (const e of [3, 64, 130, 199]) {
        const m = await fold(j, { at: `epoch:${e}`, out: tmp.path(`o${e}`) });
        assert.equal(sha(readFileSync(tmp.path(`o${e}`, 'memory.raw'))), shas[e], `epoch ${e}`);
        assert.ok(m.replayedEvents <= KEYFRAME_MAX_EPOCHS * 4, `replayed ${m.replayedEvents} events at epoch ${e}`);
      }
    } finally {
      await j.close();
    }
  });
});
