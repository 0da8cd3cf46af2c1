import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { directIoFallback, directIoNative, openDirect, preadAligned, preallocate, pwriteAligned } from '../../src/native/direct-io.js';
import { BLOCK_HEADER } from '../../src/store/block-codec.js';
import { PREALLOCATE_BYTES, PackReader, PackWriter, packFileName, type BlobLocation } from '../../src/store/pack-files.js';
import { sliceBuffers } from '../../src/util/slice-buffers.js';
import { LocalStore, type CacheMode } from '../../src/store/local-store.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { existsSync, statSync } from 'node:fs';
import { useTmp } from '../helpers/tmp.js';

/** Pages of `path` in the page cache (util-linux fincore). */
function residentBytes(path: string): number {
  const r = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

/** Random pieces of random lengths that add up to `total`. */
function pieces(total: number): Buffer[] {
  const out: Buffer[] = [];
  for (let left = total; left > 0;) {
    const n = Math.min(left, 1 + Math.floor(Math.random() * 70000));
    out.push(randomBytes(n));
    left -= n;
  }
  return out;
}

/** Each item at `locs[i]` reads back as `want[i]` (stored blocks straight from the file, the others through the block cache). */
async function assertItemsReadBack(r: PackReader, locs: BlobLocation[], want: Buffer[], what: string): Promise<void> {
  assert.equal(locs.length, want.length);
  for (const [i, loc] of locs.entries()) {
    const got = Buffer.alloc(loc.itemLen);
    if (loc.clen === loc.rawLen) await r.readStored(loc.pack, loc.offset, loc.itemOff, got, 0, loc.itemLen);
    else (await r.readBlock(loc)).copy(got, 0, loc.itemOff, loc.itemOff + loc.itemLen);
    assert.ok(got.equals(want[i]!), `item ${i} (${what})`);
  }
}

describe('direct I/O (O_DIRECT pack files) and its fallback', function () {
  const tmp = useTmp();

  it('is in the addon, and the file system of the tests takes O_DIRECT', async () => {
    assert.ok(directIoNative, 'the native addon has no direct I/O (run npm run build:native)');
    const path = tmp.path('f');
    writeFileSync(path, '');
    const fh = await openDirect(path, fsConstants.O_WRONLY);
    assert.ok(fh, `${tmp.dir} refuses O_DIRECT`);
    await fh.close();
  });

  it('native (O_DIRECT) and fallback write and read the same bytes', async () => {
    const total = 6 * 1024 * 1024 + 3 * 4096;
    const parts = pieces(total);
    const whole = Buffer.concat(parts);
    const a = tmp.path('native');
    const b = tmp.path('fallback');
    writeFileSync(a, '');
    writeFileSync(b, '');
    const da = (await openDirect(a, fsConstants.O_RDWR))!;
    const fb = await open(b, 'r+');
    // In pieces written at once, out of order, as the pack writer does: each piece a run
    // of views cut across the random-length buffers.
    const cuts = [0, 4096, 1024 * 1024, 5 * 1024 * 1024 + 8192, total];
    const jobs: Promise<number>[] = [];
    for (let i = cuts.length - 2; i >= 0; i--) {
      const [from, to] = [cuts[i]!, cuts[i + 1]!];
      const piece = sliceBuffers(parts, from, to);
      jobs.push(pwriteAligned(da.fd, piece, from, true));
      jobs.push(directIoFallback.pwriteAligned(fb.fd, piece, from));
    }
    assert.deepEqual(
      (await Promise.all(jobs)).reduce((x, y) => x + y, 0),
      2 * total,
    );
    assert.ok(readFileSync(a).equals(whole));
    assert.ok(readFileSync(b).equals(whole));
    // Reads at any position and length, across the staging size and past the end.
    for (const [pos, len] of [
      [0, 1],
      [17, 4095],
      [4095, 9000],
      [123457, 8 * 1024 * 1024 + 5],
      [total - 10, 30],
      [total + 5000, 10],
    ] as const) {
      const x = Buffer.alloc(len + 7, 0xee);
      const y = Buffer.alloc(len + 7, 0xee);
      const nx = await preadAligned(da.fd, pos, len, x, 7, true);
      const ny = await preadAligned(fb.fd, pos, len, y, 7, false);
      const want = Math.max(0, Math.min(len, total - pos));
      assert.equal(nx, want, `native read at ${pos}`);
      assert.equal(ny, want, `fallback read at ${pos}`);
      assert.ok(x.equals(y), `read at ${pos}`);
      assert.ok(x.subarray(7, 7 + want).equals(whole.subarray(pos, pos + want)));
    }
    await da.close();
    await fb.close();
  });

  it('a failed write or read rejects with the errno name, native and fallback alike', async () => {
    const path = tmp.path('ro');
    writeFileSync(path, Buffer.alloc(8192));
    const ro = openSync(path, 'r');
    try {
      for (const impl of [directIoNative!, directIoFallback]) {
        await assert.rejects(impl.pwriteAligned(ro, [Buffer.alloc(4096)], 0), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
        await assert.rejects(impl.preadAligned(987654, 0, 10, Buffer.alloc(10), 0), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
      }
    } finally {
      closeSync(ro);
    }
  });

  it('refuses misaligned direct writes, and bad arguments, before any I/O', () => {
    const fd = openSync(tmp.path('x'), 'w');
    try {
      const bufs = [Buffer.alloc(8192)];
      assert.throws(() => pwriteAligned(fd, bufs, 100, true), RangeError);
      assert.throws(() => pwriteAligned(fd, [Buffer.alloc(100)], 0, true), RangeError);
      assert.throws(() => pwriteAligned(fd, [...bufs, Buffer.alloc(7)], 4096, true), RangeError);
      assert.throws(() => pwriteAligned(-1, bufs, 0, true), TypeError);
      assert.throws(() => pwriteAligned(fd, ['x' as unknown as Buffer], 0, true), TypeError);
      // The addon checks too, when called without the TypeScript layer.
      assert.throws(() => directIoNative!.pwriteAligned(fd, [Buffer.alloc(100)], 0), RangeError);
      assert.throws(() => preadAligned(fd, 0, 10, Buffer.alloc(5), 0, true), RangeError);
      assert.throws(() => preadAligned(fd, 0.5, 1, Buffer.alloc(5), 0, true), TypeError);
    } finally {
      closeSync(fd);
    }
  });

  it('pack writer: direct and page-cache modes write the same pack bytes, and direct writes leave the page cache alone', async () => {
    const sizes = [100, 300 * 1024, 7, 2 * 1024 * 1024 + 5, 4096, 5 * 1024 * 1024, 33];
    const batches = sizes.map((n) => pieces(n));
    const files: string[] = [];
    const locs: BlobLocation[][][] = [];
    for (const direct of [true, false]) {
      const dir = tmp.path(direct ? 'direct' : 'cached');
      const w = new PackWriter(dir, 1, { direct });
      const l: BlobLocation[][] = [];
      for (const items of batches) l.push(...(await w.appendBlocks([items])));
      await w.sync();
      await w.close();
      files.push(packFileName(dir, 1));
      locs.push([l.flat()]);
    }
    // Direct writes do not leave their bytes in the page cache (only the partial pages
    // the small appends and the tails wrote through it); the cached mode leaves all.
    assert.ok(residentBytes(files[0]!) < 1024 * 1024, `direct: ${residentBytes(files[0]!)} bytes cached`);
    assert.ok(residentBytes(files[1]!) > 6 * 1024 * 1024, `cached: ${residentBytes(files[1]!)} bytes cached`);
    const [d, c] = files.map((f) => readFileSync(f));
    assert.ok(d!.equals(c!), 'the two modes wrote different bytes');
    assert.deepEqual(locs[0], locs[1]);
    // Every item reads back, in both modes, through both read paths.
    for (const direct of [true, false]) {
      const r = new PackReader(join(files[0]!, '..'), undefined, { direct });
      await assertItemsReadBack(r, locs[0]![0]!, batches.flat(), `direct reads ${direct}`);
      await r.close();
    }
  });

  it('preallocate: the range reads as zeroes and the file grows over it; a refusal is false, a bad argument a TypeError', async () => {
    const path = tmp.path('alloc.bin');
    writeFileSync(path, Buffer.from('abc'));
    const fd = openSync(path, 'r+');
    try {
      assert.equal(await preallocate(fd, 0, 1 << 20), true);
      assert.equal(statSync(path).size, 1 << 20);
      const bytes = readFileSync(path);
      assert.equal(bytes.subarray(0, 3).toString(), 'abc', 'allocation keeps the bytes there');
      assert.ok(bytes.subarray(3).equals(Buffer.alloc((1 << 20) - 3)));
    } finally {
      closeSync(fd);
    }
    // A read-only descriptor cannot be allocated: false, and the file is as it was.
    const ro = openSync(path, 'r');
    try {
      assert.equal(await preallocate(ro, 1 << 20, 4096), false);
      assert.equal(statSync(path).size, 1 << 20);
    } finally {
      closeSync(ro);
    }
    assert.equal(await preallocate(0, 0, 0), false);
    await assert.rejects(async () => preallocate(-1, 0, 10), TypeError);
    await assert.rejects(async () => preallocate(3, 0.5, 10), TypeError);
  });

  it('pack writer (direct): the file is allocated ahead while open, blocks written into it read back, the zeroes after them read as an uncommitted tail, and close cuts the file to its last block', async () => {
    const dir = tmp.path('ahead');
    const w = new PackWriter(dir, 1, { direct: true });
    const batches = [pieces(3 * 1024 * 1024 + 17), pieces(512 * 1024), pieces(5 * 1024 * 1024 + 3)];
    const locs: BlobLocation[][] = [];
    for (const items of batches) locs.push((await w.appendBlocks([items])).flat());
    const file = packFileName(dir, 1);
    const last = locs[2]![locs[2]!.length - 1]!;
    const end = last.offset + BLOCK_HEADER + last.clen;
    // Allocated ahead: the file is larger than its blocks (by up to a step and a half).
    const open = statSync(file).size;
    assert.ok(open > end && open <= end + PREALLOCATE_BYTES * 2, `size ${open} while open, blocks end at ${end}`);
    // What a crash would leave: the blocks, then zeroes, which a walk of the pack stops at.
    const r = new PackReader(dir, undefined, { direct: true });
    let walked = 0;
    for await (const b of r.blocks(1)) walked = b.offset + BLOCK_HEADER + b.clen;
    assert.equal(walked, end);
    await assertItemsReadBack(r, locs.flat(), batches.flat(), 'while open');
    await r.close();
    await w.close();
    assert.equal(statSync(file).size, end, 'close keeps exactly the blocks');
  });

  it('pack writer (direct): rotating to a new pack file cuts the full one back to its blocks, and every item reads back from its own file', async () => {
    const dir = tmp.path('rotate');
    const w = new PackWriter(dir, 1, { direct: true, rotateBytes: 3 * 1024 * 1024 });
    const batches = Array.from({ length: 7 }, (_, i) => pieces(1024 * 1024 + 4096 * i + 17));
    const locs: BlobLocation[][] = [];
    for (const items of batches) locs.push((await w.appendBlocks([items])).flat());
    await w.close();
    const packs = [...new Set(locs.flat().map((l) => l.pack))];
    assert.ok(packs.length >= 2, `rotated into ${packs.length} pack files`);
    for (const pack of packs) {
      const mine = locs.flat().filter((l) => l.pack === pack);
      const end = Math.max(...mine.map((l) => l.offset + BLOCK_HEADER + l.clen));
      assert.equal(statSync(packFileName(dir, pack)).size, end, `pack ${pack} ends at its last block`);
    }
    const r = new PackReader(dir, undefined, { direct: true });
    await assertItemsReadBack(r, locs.flat(), batches.flat(), 'after rotation');
    await r.close();
  });

  it('refuses an unknown cache mode (option or TTJ_CACHE) with BAD_ARGUMENT and creates nothing', async () => {
    const J = tmp.path('j');
    await assert.rejects(LocalStore.open(J, { create: true, cache: 'unsafe' as CacheMode }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    const saved = process.env.TTJ_CACHE;
    process.env.TTJ_CACHE = 'directsync';
    try {
      await assert.rejects(LocalStore.open(J, { create: true }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    } finally {
      if (saved === undefined) delete process.env.TTJ_CACHE;
      else process.env.TTJ_CACHE = saved;
    }
    assert.equal(existsSync(J), false);
  });
});
