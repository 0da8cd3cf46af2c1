import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_HEADER } from '../../src/store/block-codec.js';
import { PREALLOCATE_BYTES, PackReader, PackWriter, packFileName, type BlobLocation } from '../../src/store/pack-files.js';
import { LocalStore, type CacheMode } from '../../src/store/local-store.js';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { randomPieces } from '../helpers/random-pieces.js';
import { useTmp } from '../helpers/tmp.js';

/** Pages of `path` in the page cache (util-linux fincore). */
function residentBytes(path: string): number {
  const r = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
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

describe('pack files (direct I/O and page-cache modes)', function () {
  const tmp = useTmp();

  it('pack writer: direct and page-cache modes write the same pack bytes, and direct writes leave the page cache alone', async () => {
    const sizes = [100, 300 * 1024, 7, 2 * 1024 * 1024 + 5, 4096, 5 * 1024 * 1024, 33];
    const batches = sizes.map((n) => randomPieces(n));
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

  it('pack writer (direct): the file is allocated ahead while open, blocks written into it read back, the zeroes after them read as an uncommitted tail, and close cuts the file to its last block', async () => {
    const dir = tmp.path('ahead');
    const w = new PackWriter(dir, 1, { direct: true });
    const batches = [randomPieces(3 * 1024 * 1024 + 17), randomPieces(512 * 1024), randomPieces(5 * 1024 * 1024 + 3)];
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
    const batches = Array.from({ length: 7 }, (_, i) => randomPieces(1024 * 1024 + 4096 * i + 17));
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
