import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { fallbackImpl, nativeImpl, nativeInfo, scanPages, scanPagesAsync, sha256Pages, sha256PagesAsync, sha256Ranges, gatherPages } from '../../src/native/index.js';
import { memoryImage, dirty } from '../helpers/images.js';

const native = () => {
  assert.ok(nativeImpl, `the native page scanner did not load (${nativeInfo().reason}): build it with npm run build:native`);
  return nativeImpl;
};

describe('native page scanner and its TypeScript fallback', function () {
  it('is built and loaded, with SHA-NI or the portable SHA-256', () => {
    native();
    const i = nativeInfo();
    assert.equal(i.loaded, true);
    assert.ok(['sha-ni', 'portable'].includes(i.sha));
  });

  for (const ps of [512, 4096, 65536]) {
    it(`gives identical scans with and without prev (page size ${ps})`, () => {
      const n = native();
      const img = memoryImage((256 * 4096) / ps, ps, ps);
      img.fill(1, 0, ps); // page 0 is not zero at first
      const a = n.scanPages(img, ps);
      const b = fallbackImpl.scanPages(img, ps);
      assert.deepEqual(a.fingerprints, b.fingerprints);
      assert.deepEqual(a.dirty, b.dirty);
      assert.deepEqual(a.zero, b.zero);
      assert.equal(a.dirty.length, img.length / ps, 'without prev every page is dirty');
      const touched = new Set(dirty(img, ps, 20, 7));
      img.fill(0, 0, ps); // page 0 becomes zero
      touched.add(0);
      const a2 = n.scanPages(img, ps, a.fingerprints);
      const b2 = fallbackImpl.scanPages(img, ps, b.fingerprints);
      assert.deepEqual(a2.fingerprints, b2.fingerprints);
      assert.deepEqual(a2.dirty, b2.dirty);
      assert.deepEqual(a2.zero, b2.zero);
      for (const p of a2.dirty) assert.ok(touched.has(p), `page ${p} reported dirty but not touched`);
      assert.ok(a2.zero.includes(0));
      assert.ok(a2.fingerprints.subarray(0, 16).equals(Buffer.alloc(16)), 'a zero page has the zero fingerprint');
    });
  }

  it('hashes pages and ranges exactly like node:crypto, in both implementations', async () => {
    const n = native();
    const buf = Buffer.alloc(64 * 4096);
    randomFillSync(buf, 0, 40 * 4096);
    const pfns = Uint32Array.from([0, 5, 39, 40, 63]);
    const want = Buffer.concat([...pfns].map((p) => createHash('sha256').update(buf.subarray(p * 4096, (p + 1) * 4096)).digest()));
    assert.deepEqual(n.sha256Pages(buf, 4096, pfns), want);
    assert.deepEqual(fallbackImpl.sha256Pages(buf, 4096, pfns), want);
    assert.deepEqual(await sha256PagesAsync(buf, 4096, pfns), want);
    const lens = [0, 1, 55, 56, 63, 64, 65, 119, 120, 4096, 100000];
    const offsets = Uint32Array.from(lens.map((_, i) => i * 7));
    const lengths = Uint32Array.from(lens);
    const ranges = Buffer.concat(lens.map((l, i) => createHash('sha256').update(buf.subarray(i * 7, i * 7 + l)).digest()));
    assert.deepEqual(n.sha256Ranges(buf, offsets, lengths), ranges);
    assert.deepEqual(fallbackImpl.sha256Ranges(buf, offsets, lengths), ranges);
    assert.deepEqual(gatherPages(buf, 4096, Uint32Array.from([5, 0])), Buffer.concat([buf.subarray(5 * 4096, 6 * 4096), buf.subarray(0, 4096)]));
  });

  it('async scans equal sync scans, on a large image split across threads', async () => {
    native();
    const img = memoryImage(16384, 4096, 3);
    const s = scanPages(img, 4096);
    const a = await scanPagesAsync(img, 4096);
    assert.deepEqual(a.fingerprints, s.fingerprints);
    assert.deepEqual(a.zero, s.zero);
  });

  it('refuses bad arguments with a TypeError or RangeError, in TypeScript and in the addon', () => {
    const n = native();
    const buf = Buffer.alloc(8192);
    for (const impl of [{ scanPages, sha256Pages }, n]) {
      assert.throws(() => impl.scanPages(Buffer.alloc(5000), 4096), TypeError);
      assert.throws(() => impl.scanPages(buf, 3000), TypeError);
      assert.throws(() => impl.scanPages(buf, 256), TypeError);
      assert.throws(() => impl.scanPages(buf, 4096, Buffer.alloc(31)), TypeError);
      assert.throws(() => impl.scanPages('nope' as unknown as Buffer, 4096), TypeError);
      assert.throws(() => impl.sha256Pages(buf, 4096, Uint32Array.from([2])), RangeError);
      assert.throws(() => impl.sha256Pages(buf, 4096, [0] as unknown as Uint32Array), TypeError);
    }
  });

  it('refuses a released (detached) buffer instead of crashing', () => {
    const n = native();
    const ab = new ArrayBuffer(8192);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] });
    assert.equal(view.byteLength, 0);
    assert.throws(() => n.scanPages(view, 4096, Buffer.alloc(32)), TypeError);
    assert.deepEqual([...n.scanPages(view, 4096).dirty], []);
  });

  it('works from a worker thread with the same answers', async () => {
    native();
    const img = memoryImage(512, 4096, 9);
    const here = scanPages(img, 4096).fingerprints.toString('hex');
    const mod = fileURLToPath(new URL('../../src/native/index.js', import.meta.url));
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(mod)}).then((m) => {
        const r = m.scanPages(Buffer.from(workerData), 4096);
        parentPort.postMessage({ fp: Buffer.from(r.fingerprints).toString('hex'), loaded: m.nativeInfo().loaded });
      });`;
    const w = new Worker(code, { eval: true, workerData: img });
    const msg = await new Promise<{ fp: string; loaded: boolean }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.equal(msg.loaded, true);
    assert.equal(msg.fp, here);
  });
});
