import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { fallbackImpl } from '../../src/native/fallback.js';
import { ramFileFallback, ramFileNative, readPages, scanFile, type RamFileImpl } from '../../src/native/ram-file.js';
import { prng, randomBytes } from '../helpers/seeded-random.js';
import { useShmTmp } from '../helpers/tmp.js';

/**
 * A sparse file of `pages` pages on tmpfs: holes (never written), written zero pages,
 * random pages and pages that differ from another in one byte only. Returns its bytes.
 */
function writeRam(path: string, pages: number, ps: number, seed: number, from?: Buffer): Buffer {
  const rnd = prng(seed);
  const bytes = from ? Buffer.from(from) : Buffer.alloc(pages * ps);
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, pages * ps);
    if (from) writeSync(fd, from, 0, from.length, 0);
    // A run of several MiB of data (read in more than one chunk, split across threads),
    // then scattered pages between holes.
    const changes: [number, Buffer][] = [];
    for (let i = 0; i < pages; i++) {
      const r = rnd();
      const dense = i >= pages / 4 && i < pages / 4 + (6 << 20) / ps;
      if (!dense && r > 0.05) continue;
      const kind = rnd();
      const page = kind < 0.2 ? Buffer.alloc(ps) : kind < 0.4 ? Buffer.from(bytes.subarray(i * ps, (i + 1) * ps)) : randomBytes(ps, rnd);
      if (kind >= 0.2 && kind < 0.4) page[Math.floor(rnd() * ps)] ^= 1;
      changes.push([i, page]);
    }
    for (const [i, page] of changes) {
      writeSync(fd, page, 0, ps, i * ps);
      page.copy(bytes, i * ps);
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

async function scanWith(impl: RamFileImpl, path: string, size: number, ps: number, prev?: Buffer) {
  const fh = await open(path, 'r');
  try {
    return await impl.scanFile(fh.fd, size, ps, prev);
  } finally {
    await fh.close();
  }
}

describe('RAM file scan and page reads, native and fallback', function () {
  this.timeout(120000);
  const tmp = useShmTmp();

  it('is in the addon (run npm run build:native if this fails)', () => {
    assert.ok(ramFileNative, 'the native addon has no RAM file scan');
  });

  for (const ps of [4096, 512]) {
    it(`scans a sparse file exactly as scanPages scans its bytes, in both implementations, with and without prev (page size ${ps})`, async () => {
      const pages = (24 << 20) / ps;
      const size = pages * ps;
      const a = writeRam(tmp.path(`a${ps}`), pages, ps, 1);
      const b = writeRam(tmp.path(`b${ps}`), pages, ps, 2, a);
      const wantA = fallbackImpl.scanPages(a, ps, null);
      const wantB = fallbackImpl.scanPages(b, ps, wantA.fingerprints);
      assert.ok(wantB.dirty.length > 100 && wantB.zero.length > 10 && wantB.dirty.length < pages / 2, 'the second file changes some pages, some to zero');
      for (const impl of [ramFileNative!, ramFileFallback]) {
        const gotA = await scanWith(impl, tmp.path(`a${ps}`), size, ps);
        assert.deepEqual(gotA, wantA);
        const gotB = await scanWith(impl, tmp.path(`b${ps}`), size, ps, gotA.fingerprints);
        assert.deepEqual(gotB, wantB);
      }
      // A prefix of the file: only its pages.
      const half = await scanWith(ramFileNative!, tmp.path(`a${ps}`), size / 2, ps);
      assert.deepEqual(half, fallbackImpl.scanPages(a.subarray(0, size / 2), ps, null));
    });
  }

  it('reads the pages asked for (runs and single pages) exactly, in both implementations', async () => {
    const ps = 4096;
    const pages = (8 << 20) / ps;
    const bytes = writeRam(tmp.path('r'), pages, ps, 3);
    const pfns = Uint32Array.from([0, 1, 2, 3, 7, 100, 101, 500, 1000, 1001, 1002, 2047]);
    const want = Buffer.concat([...pfns].map((p) => bytes.subarray(p * ps, (p + 1) * ps)));
    const fh = await open(tmp.path('r'), 'r');
    try {
      for (const impl of [ramFileNative!, ramFileFallback]) {
        const out = Buffer.alloc(pfns.length * ps + 7, 0xee);
        await impl.readPages(fh.fd, ps, pfns, out);
        assert.ok(out.subarray(0, want.length).equals(want));
        assert.equal(out[want.length], 0xee, 'nothing written past the pages');
      }
      assert.ok((await readPages(fh.fd, ps, pfns, Buffer.alloc(want.length))).equals(want));
      assert.equal((await readPages(fh.fd, ps, new Uint32Array(0), Buffer.alloc(0))).length, 0);
    } finally {
      await fh.close();
    }
  });

  it('rejects a file shorter than the size and a page beyond its end; refuses bad arguments with a TypeError', async () => {
    const ps = 4096;
    writeRam(tmp.path('s'), 16, ps, 4);
    const fh = await open(tmp.path('s'), 'r');
    try {
      for (const impl of [ramFileNative!, ramFileFallback]) {
        await assert.rejects(impl.scanFile(fh.fd, 32 * ps, ps, null), /shorter/);
        await assert.rejects(impl.readPages(fh.fd, ps, Uint32Array.from([3, 16]), Buffer.alloc(2 * ps)), /shorter/);
      }
      assert.throws(() => scanFile(fh.fd, 100, ps), TypeError);
      assert.throws(() => scanFile(fh.fd, 16 * ps, 1000), TypeError);
      assert.throws(() => scanFile(-1, 16 * ps, ps), TypeError);
      assert.throws(() => scanFile(fh.fd, 16 * ps, ps, Buffer.alloc(15)), TypeError);
      assert.throws(() => readPages(fh.fd, ps, Uint32Array.from([1, 2]), Buffer.alloc(ps)), TypeError);
      assert.throws(() => readPages(fh.fd, ps, [1] as unknown as Uint32Array, Buffer.alloc(ps)), TypeError);
    } finally {
      await fh.close();
    }
  });
});
