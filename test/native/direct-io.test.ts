import assert from 'node:assert/strict';
import { closeSync, constants as fsConstants, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { directIoFallback, directIoNative, openDirect, preadAligned, preallocate, pwriteAligned } from '../../src/native/direct-io.js';
import { sliceBuffers } from '../../src/util/slice-buffers.js';
import { randomPieces } from '../helpers/random-pieces.js';
import { useTmp } from '../helpers/tmp.js';

describe('direct I/O (O_DIRECT) and its fallback', function () {
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
    const parts = randomPieces(total);
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
});
