/**
 * Small disk writes (a part of a block) are stored as patches on the block's old
 * content: random writes of random sizes at random offsets, through qemu-io and
 * through the library, fold exactly at every point, verify, cost about the bytes
 * written, and leave the same state root as the same content written as whole blocks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { appendImages } from '../../../src/journal/append-images.js';
import { verify } from '../../../src/journal/verify.js';
import { JournalWriter } from '../../../src/journal/writer.js';
import { serveDisk } from '../../../src/replay/serve-disk.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { useTmp } from '../../helpers/tmp.js';
import { foldDisk, withJournal } from '../../helpers/with-journal.js';

const execFileP = promisify(execFile);
const SEED = Number(process.env.TTJ_TEST_SEED ?? Date.now() % 100000);
const BLOCK = 64 * 1024;
/** 4 MiB less a sector: the last block is short. */
const SIZE = 4 * 1024 * 1024 - 512;

/** qemu-io commands on `url`; fails on any failed request. */
async function qemuIo(url: string, cmds: string[]): Promise<void> {
  const r = await execFileP('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), url], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (/verification failed|failed:/i.test(r.stdout + r.stderr)) throw new Error(`qemu-io: ${r.stdout}${r.stderr}`);
}

describe('small disk writes stored as patches @slow', function () {
  this.timeout(600_000);
  const tmp = useTmp();

  it('random writes of random sizes and offsets (qemu-io and the library) fold exactly at every point, verify, cost about their bytes, and give whole-block state roots', async () => {
    const r = prng(SEED);
    const rand = (n: number) => Math.floor(r() * n);
    const msg = `TTJ_TEST_SEED=${SEED}`;
    // The disk at start: random blocks, some zero blocks.
    const model = randomBytes(SIZE, r);
    for (const b of [2, 5, 6, 40, 63]) model.fill(0, b * BLOCK, Math.min((b + 1) * BLOCK, SIZE));
    writeFileSync(tmp.path('start.img'), model);
    const J = tmp.path('j');
    for (const dir of [J, tmp.path('whole0')]) {
      const w = await JournalWriter.openWriter(dir);
      await appendImages(w, { disks: [{ name: 'd0', path: tmp.path('start.img') }] });
      await w.close();
    }

    const points: { seq: number; image: Buffer }[] = [];
    let written = 0;
    /** What the writes would cost as whole blocks: every block each one touches. */
    let wholeCost = 0;
    const served = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('s.sock') });
    const before = (await served.writer!.storeStats()).storedBytes;
    try {
      const writer = served.writer!;
      const at = () => points.push({ seq: writer.headSeqNumber, image: Buffer.from(model) });
      const span = () => {
        const len = 1 + rand(rand(4) === 0 ? 3 * BLOCK : 12000);
        const off = rand(SIZE - len);
        wholeCost += (Math.ceil((off + len) / BLOCK) - Math.floor(off / BLOCK)) * BLOCK;
        return { off, len };
      };
      for (let round = 0; round < 6; round++) {
        // The library: writes one at a time (one event each: every seq is a point)...
        for (let i = 0; i < 12; i++) {
          const { off, len } = span();
          const data = randomBytes(len, r);
          await served.device.write(off, data, { fua: rand(8) === 0 });
          data.copy(model, off);
          written += len;
          at();
        }
        // ...and many in flight at once, overlapping (one group: patches on patches of the same append).
        const batch: Promise<void>[] = [];
        for (let i = 0; i < 24; i++) {
          const { off, len } = span();
          written += len;
          // Writes land in the order they were made: the model takes them in that order.
          if (i % 5 === 4) {
            model.fill(0, off, off + len);
            batch.push(served.device.writeZeroes(off, len, { fua: false, mayTrim: false }));
          } else {
            const data = randomBytes(len, r);
            data.copy(model, off);
            batch.push(served.device.write(off, data, { fua: false }));
          }
        }
        await Promise.all(batch);
        at();
        // A real client: patterned writes, zeroes and discards at byte and sector offsets.
        const cmds: string[] = [];
        for (let i = 0; i < 20; i++) {
          const { off, len } = span();
          const kind = rand(6);
          if (kind === 0) {
            const o = off & ~511;
            const l = Math.max(512, len & ~511);
            cmds.push(`write -z ${o} ${l}`);
            model.fill(0, o, o + l);
          } else {
            const p = 1 + rand(254);
            cmds.push(`write -P ${p} ${off} ${len}`);
            model.fill(p, off, off + len);
            written += len;
          }
        }
        await qemuIo(served.url, cmds);
        at();
      }
    } finally {
      await served.close();
    }

    // A journal that holds patches is marked as store version 2 with feature `patches` (an older ttj refuses it rather than misreads it).
    assert.deepEqual(JSON.parse(readFileSync(join(J, 'ttj-journal.json'), 'utf8')), { format: 'ttj-journal', version: 2, features: ['patches'] });
    assert.equal(JSON.parse(readFileSync(join(tmp.path('whole0'), 'ttj-journal.json'), 'utf8')).version, 1, 'a journal of whole blocks stays version 1');
    await withJournal(J, async (j) => {
      const grew = (await j.storeStats()).storedBytes - before;
      // Whole blocks would cost about a block per write; patches about the bytes written.
      assert.ok(grew < 1.5 * written && grew < wholeCost / 2, `the journal grew ${grew} bytes for ${written} bytes written (${wholeCost} as whole blocks) (${msg})`);
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, `verify --deep: ${JSON.stringify(v.error)} (${msg})`);
    });
    for (const [k, p] of points.entries()) {
      const disk = await foldDisk(J, `seq:${p.seq}`, tmp.path(`f${k}`), 'd0');
      assert.ok(disk.equals(p.image), `fold --at seq:${p.seq} (point ${k}) differs from the model (${msg})`);
    }

    // The state root an epoch commits is that of whole blocks: the same content
    // appended as a whole image to a journal without patches gives the same root.
    const end = points[points.length - 1]!.image;
    writeFileSync(tmp.path('end.img'), end);
    const rootOf = async (dir: string): Promise<string> => {
      const wr = await JournalWriter.openWriter(dir);
      try {
        await appendImages(wr, { disks: [{ name: 'd0', path: tmp.path('end.img') }] });
        return wr.headState.root().toString('hex');
      } finally {
        await wr.close();
      }
    };
    const W = tmp.path('whole');
    const ww = await JournalWriter.openWriter(W);
    await appendImages(ww, { disks: [{ name: 'd0', path: tmp.path('start.img') }] });
    await ww.close();
    assert.equal(await rootOf(J), await rootOf(W), `state roots (${msg})`);
  });
});
