/**
 * Random small writes by a real client (fio's nbd engine, many in flight) through the
 * journal's NBD server: fio checks every block it wrote by reading it back, the disk
 * read back through nbdcopy after each run equals the journal folded at that point
 * (byte for byte), and verify --deep holds. The writes' bases come from blocks written
 * moments before and from reads started as the writes arrive (src/capture/block-bases.ts):
 * a stale base would lose the bytes around a write, which fio's check and the folds see.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { verify } from '../../../src/journal/verify.js';
import { JournalWriter } from '../../../src/journal/writer.js';
import { appendImages } from '../../../src/journal/append-images.js';
import { serveDisk } from '../../../src/replay/serve-disk.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { run, runOk } from '../../helpers/run-process.js';
import { useTmp } from '../../helpers/tmp.js';
import { foldDisk, withJournal } from '../../helpers/with-journal.js';

const SEED = Number(process.env.TTJ_TEST_SEED ?? Date.now() % 100000);
/** 8 MiB of 64 KiB blocks: every fio run writes most blocks several times in part. */
const SIZE = 8 * 1024 * 1024;

/** fio's random writes of `bs` (a size or a range) to `url`, `ioKiB` in all, checked by reading them back. */
async function fio(url: string, name: string, bs: string, ioKiB: number, seed: number): Promise<void> {
  const r = await run(
    'fio',
    [
      `--name=${name}`,
      '--ioengine=nbd',
      `--uri=${url}`,
      '--rw=randwrite',
      bs.includes('-') ? `--bsrange=${bs}` : `--bs=${bs}`,
      '--iodepth=16',
      '--refill_buffers',
      `--randseed=${seed}`,
      `--io_size=${ioKiB}k`,
      '--verify=crc32c',
      '--do_verify=1',
      '--verify_fatal=1',
      '--verify_state_save=0',
      '--end_fsync=1',
    ],
    300_000,
  );
  assert.equal(r.code, 0, `fio ${name} failed (TTJ_TEST_SEED=${SEED}): ${r.stdout}${r.stderr}`);
}

describe('random small writes by fio through ttj nbd @slow', function () {
  this.timeout(600_000);
  const tmp = useTmp();

  it('are read back by fio, fold exactly at every run’s point, and verify --deep', async () => {
    const msg = `TTJ_TEST_SEED=${SEED}`;
    writeFileSync(tmp.path('start.img'), randomBytes(SIZE, prng(SEED)));
    const J = tmp.path('j');
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { disks: [{ name: 'd0', path: tmp.path('start.img') }] });
    await w.close();

    const points: { seq: number; image: string }[] = [];
    const served = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('s.sock') });
    try {
      // 4 KiB writes (within a block), then writes of 512 bytes to 12 KiB (some across two blocks).
      const runs: [string, number][] = [
        ['4k', 4096],
        ['4k', 4096],
        ['512-12k', 4096],
        ['4k', 8192],
      ];
      for (const [k, [bs, io]] of runs.entries()) {
        await fio(served.url, `run${k}`, bs, io, SEED + k);
        const image = tmp.path(`read${k}.img`);
        await runOk('nbdcopy', [served.url, image], 300_000);
        points.push({ seq: served.writer!.headSeqNumber, image });
      }
    } finally {
      await served.close();
    }
    assert.equal(new Set(points.map((p) => p.seq)).size, points.length, 'every run journaled writes');
    for (const [k, p] of points.entries()) {
      const disk = await foldDisk(J, `seq:${p.seq}`, tmp.path(`f${k}`), 'd0');
      assert.ok(disk.equals(readFileSync(p.image)), `fold --at seq:${p.seq} (after run ${k}) differs from the disk read back then (${msg})`);
    }
    await withJournal(J, async (j) => {
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, `verify --deep: ${JSON.stringify(v.error)} (${msg})`);
    });
  });

  it('a small write on a block written whole moments before keeps that block’s bytes, though the writer reuses its buffer', async () => {
    const BLOCK = 64 * 1024;
    const r = prng(SEED);
    const model = randomBytes(SIZE, r);
    writeFileSync(tmp.path('start.img'), model);
    const J = tmp.path('j');
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { disks: [{ name: 'd0', path: tmp.path('start.img') }] });
    await w.close();
    const served = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('s.sock') });
    try {
      const dev = served.device;
      const reused = Buffer.alloc(2 * BLOCK);
      for (let i = 0; i < 20; i++) {
        const b = Math.floor(r() * (SIZE / BLOCK - 2));
        // Two whole blocks from a buffer the client then fills with its next request...
        reused.set(randomBytes(2 * BLOCK, r));
        await dev.write(b * BLOCK, reused, { fua: false });
        reused.copy(model, b * BLOCK);
        reused.fill(0xee);
        // ...and small writes into them, at once and later.
        const small: Promise<void>[] = [];
        for (let k = 0; k < 4; k++) {
          const off = b * BLOCK + Math.floor(r() * (2 * BLOCK - 600));
          const data = randomBytes(600, r).subarray(0, 1 + Math.floor(r() * 600));
          data.copy(model, off);
          small.push(dev.write(off, data, { fua: false }));
        }
        await Promise.all(small);
      }
      assert.ok((await dev.read(0, SIZE)).equals(model), `the disk read back (TTJ_TEST_SEED=${SEED})`);
    } finally {
      await served.close();
    }
    const disk = await foldDisk(J, 'head', tmp.path('f'), 'd0');
    assert.ok(disk.equals(model), `fold of the head (TTJ_TEST_SEED=${SEED})`);
  });
});
