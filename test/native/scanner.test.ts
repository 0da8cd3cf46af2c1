import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import {
  fallback,
  fallbackImpl,
  gatherPages,
  native,
  nativeImpl,
  nativeInfo,
  scanPages,
  scanPagesAsync,
  sha256Pages,
  sha256PagesAsync,
  sha256Ranges,
  sha256BuffersAsync,
  type ScanResult,
  type ScannerImpl,
} from '../../src/native/index.js';

const INDEX = fileURLToPath(new URL('../../src/native/index.js', import.meta.url));

/** The addon: the test fails (not skips) when it did not build or load. */
function addon(): ScannerImpl {
  const i = nativeInfo();
  assert.ok(
    native,
    `the native page scanner is not loaded (${i.reason ?? 'unknown reason'}; path ${i.path ?? '?'}). ` +
      'It is a deliverable: build it with `npm run build:native` (needs a C++ compiler, make and python3), then rerun the tests.',
  );
  return native;
}

/** xorshift32: deterministic inputs. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

const WORDS = 'the quick brown fox jumps over the lazy dog kernel page memory disk journal epoch frame\n'.split(' ');

/** An image of `pages` pages: zero, random, text-like, sparse (a few non-zero bytes) and duplicated pages. */
function image(pages: number, ps: number, seed: number): Buffer {
  const r = rng(seed);
  const img = Buffer.alloc(pages * ps);
  for (let p = 0; p < pages; p++) {
    const page = img.subarray(p * ps, (p + 1) * ps);
    const kind = r() % 5;
    if (kind === 0) continue; // zero
    if (kind === 1) for (let i = 0; i + 4 <= ps; i += 4) page.writeUInt32LE(r(), i);
    else if (kind === 2) for (let off = 0; off < ps;) off += page.write(WORDS[r() % WORDS.length]! + ' ', off);
    else if (kind === 3) for (let k = 0; k < 3; k++) page[r() % ps] = (r() & 0xff) | 1;
    else if (p > 0) img.copy(page, 0, (r() % p) * ps, (r() % p) * ps + ps);
  }
  return img;
}

/**
 * The fingerprint exactly as docs/native.md words it, written independently of
 * both implementations (slow and plain).
 */
function referenceFingerprint(page: Uint8Array): Buffer {
  if (page.every((b) => b === 0)) return Buffer.alloc(16);
  const len = page.length;
  const u32 = (i: number) => (page[i]! | (page[i + 1]! << 8) | (page[i + 2]! << 16) | (page[i + 3]! << 24)) >>> 0;
  const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
  const step = (x: number[], w: number[]) => {
    const t = x.map((v, k) => Math.imul(rotl((v ^ w[k]!) >>> 0, 13), 0x85ebca77) >>> 0);
    for (let k = 0; k < 4; k++) x[k] = (t[k]! + 2 * t[(k + 1) % 4]!) >>> 0;
  };
  const groups = Array.from({ length: 8 }, (_, g) => [0, 1, 2, 3].map((k) => Math.imul(0x9e3779b9, 4 * g + k + 1) >>> 0));
  for (let block = 0; block < len; block += 128) {
    for (let g = 0; g < 8; g++)
      step(
        groups[g]!,
        [0, 1, 2, 3].map((k) => u32(block + 16 * g + 4 * k)),
      );
  }
  const h = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344].map((c) => (c ^ len) >>> 0);
  for (let g = 0; g < 8; g++) step(h, groups[g]!);
  for (let r = 0; r < 4; r++) step(h, [0, 0, 0, 0]);
  const out = Buffer.alloc(16);
  h.forEach((v, k) => {
    v ^= v >>> 16;
    v = Math.imul(v, 0x85ebca6b);
    v ^= v >>> 13;
    v = Math.imul(v, 0xc2b2ae35);
    v ^= v >>> 16;
    out.writeUInt32LE(v >>> 0, 4 * k);
  });
  return out;
}

function sameScan(a: ScanResult, b: ScanResult, what: string): void {
  assert.ok(Buffer.isBuffer(a.fingerprints) && Buffer.isBuffer(b.fingerprints), `${what}: fingerprints are Buffers`);
  assert.ok(a.dirty instanceof Uint32Array && a.zero instanceof Uint32Array, `${what}: dirty and zero are Uint32Arrays`);
  assert.equal(a.fingerprints.toString('hex'), b.fingerprints.toString('hex'), `${what}: fingerprints`);
  assert.deepEqual([...a.dirty], [...b.dirty], `${what}: dirty`);
  assert.deepEqual([...a.zero], [...b.zero], `${what}: zero`);
}

function sha(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Runs an ES module snippet in a fresh Node with `env` added; returns its stdout. */
function child(code: string, env: Record<string, string | undefined>): { out: string } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { out };
}

describe('native page scanner and its TypeScript fallback', function () {
  it('is built and loaded (run `npm run build:native` if this fails)', () => {
    addon();
    const i = nativeInfo();
    assert.equal(i.loaded, true);
    assert.ok(i.sha === 'sha-ni' || i.sha === 'portable');
    assert.ok(i.simd === 'avx2' || i.simd === 'portable');
    assert.ok(i.threads >= 1);
    assert.match(i.path ?? '', /native[/\\]build[/\\]Release[/\\]ttj_native\.node$/);
    assert.equal(nativeImpl, native);
    assert.equal(fallbackImpl, fallback);
  });

  it('computes the documented fingerprint (known answers and an independent reference)', () => {
    const n = addon();
    const a = Buffer.alloc(4096);
    for (let i = 0; i < a.length; i++) a[i] = i & 255;
    const b = Buffer.alloc(512);
    b[511] = 1;
    const c = Buffer.alloc(65536, 0xff);
    const known: [Buffer, number, string][] = [
      [a, 4096, '85fedfc437b74807954b22db998c0898'],
      [b, 512, '446361e1ac5a174f5d0eff6588a5b12c'],
      [c, 65536, '73c0d22fe936043b75fbf771c35c43f1'],
      [Buffer.alloc(4096), 4096, '00000000000000000000000000000000'],
    ];
    for (const [buf, ps, hex] of known) {
      assert.equal(n.scanPages(buf, ps).fingerprints.toString('hex'), hex);
      assert.equal(fallback.scanPages(buf, ps).fingerprints.toString('hex'), hex);
      assert.equal(referenceFingerprint(buf).toString('hex'), hex);
    }
    const img = image(48, 1024, 77);
    const fps = n.scanPages(img, 1024).fingerprints;
    for (let p = 0; p < 48; p++) assert.deepEqual(fps.subarray(16 * p, 16 * p + 16), referenceFingerprint(img.subarray(p * 1024, (p + 1) * 1024)), `page ${p}`);
  });

  for (const [ps, pages] of [
    [512, 700],
    [4096, 300],
    [16384, 40],
    [65536, 9],
    [1 << 20, 3],
  ] as const) {
    it(`native and fallback agree, and find exactly the modified pages (page size ${ps})`, () => {
      const n = addon();
      const img = image(pages, ps, ps ^ pages);
      const a = n.scanPages(img, ps);
      sameScan(a, fallback.scanPages(img, ps), 'first scan');
      assert.deepEqual([...a.dirty], [...Array(pages).keys()], 'without prev every page is dirty');
      const zeros = [...Array(pages).keys()].filter((p) => img.subarray(p * ps, (p + 1) * ps).every((x) => x === 0));
      assert.deepEqual([...a.zero], zeros);
      for (const p of zeros) assert.ok(a.fingerprints.subarray(16 * p, 16 * p + 16).equals(Buffer.alloc(16)));

      // Modify some pages: flip one bit, change the last byte, zero a page, fill a zero page, swap two words,
      // and modify a page and restore it (not dirty).
      const original = Buffer.from(img);
      const r = rng(ps + 1);
      img[r() % ps] ^= 0x10;
      img[(pages - 1) * ps + ps - 1] ^= 0xff;
      for (let k = 0; k < Math.min(20, pages); k++) {
        const p = r() % pages;
        const pg = img.subarray(p * ps, (p + 1) * ps);
        switch (k % 5) {
          case 0:
            pg.fill(0);
            break;
          case 1:
            pg.fill(k + 1, 0, 64);
            break;
          case 2:
            pg.writeUInt32LE(r(), 4 * (r() % (ps / 4)));
            break;
          case 3: {
            const w = pg.readUInt32LE(0);
            pg.writeUInt32LE(pg.readUInt32LE(128), 0);
            pg.writeUInt32LE(w, 128);
            break;
          }
          default:
            pg[7] ^= 1;
            pg[7] ^= 1;
        }
      }
      const touched = [...Array(pages).keys()].filter((p) => !img.subarray(p * ps, (p + 1) * ps).equals(original.subarray(p * ps, (p + 1) * ps)));
      assert.ok(touched.length >= 2);
      const a2 = n.scanPages(img, ps, a.fingerprints);
      const b2 = fallback.scanPages(img, ps, a.fingerprints);
      sameScan(a2, b2, 'second scan');
      assert.deepEqual([...a2.dirty], touched, 'dirty = exactly the modified pages');
      const zeroNow = touched.filter((p) => img.subarray(p * ps, (p + 1) * ps).every((x) => x === 0));
      assert.deepEqual([...a2.zero], zeroNow, 'zero = the dirty pages that are all zero');
      sameScan(scanPages(img, ps, a.fingerprints), a2, 'wrapper');
      sameScan(n.scanPages(img, ps, a2.fingerprints), { fingerprints: a2.fingerprints, dirty: new Uint32Array(0), zero: new Uint32Array(0) }, 'unchanged');
    });
  }

  it('agrees on unaligned views and on a Uint8Array that is not a Buffer', () => {
    const n = addon();
    const img = image(64, 4096, 5);
    const raw = new Uint8Array(img.length + 3);
    raw.set(img, 3);
    const view = raw.subarray(3);
    const want = n.scanPages(img, 4096);
    sameScan(n.scanPages(view, 4096), want, 'native, unaligned');
    sameScan(fallback.scanPages(view, 4096), want, 'fallback, unaligned');
    sameScan(fallback.scanPages(new Uint8Array(img), 4096), want, 'fallback, plain Uint8Array');
  });

  it('gives the same answers on the portable C paths (no AVX2, no SHA-NI) and with TTJ_NATIVE=0', () => {
    addon();
    const code = `
      import * as m from ${JSON.stringify(pathToFileURL(INDEX).href)};
      const img = Buffer.alloc(96 * 4096);
      let x = 7;
      for (let i = 0; i < img.length / 4; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; if ((i >> 10) % 3) img.writeUInt32LE(x, 4 * i); }
      const s = m.scanPages(img, 4096);
      const h = m.sha256Pages(img, 4096, Uint32Array.from({ length: 96 }, (_, i) => i));
      const r = m.sha256Ranges(img, Uint32Array.from([0, 1, 100]), Uint32Array.from([0, 63, 5000]));
      console.log(JSON.stringify({ info: m.nativeInfo(), fp: s.fingerprints.toString('hex'), zero: [...s.zero], h: h.toString('hex'), r: r.toString('hex') }));`;
    const envs: Record<string, string | undefined>[] = [{}, { TTJ_NO_AVX2: '1', TTJ_NO_SHA_NI: '1' }, { TTJ_NATIVE: '0' }];
    const runs = envs.map((env) => JSON.parse(child(code, env).out));
    assert.equal(runs[0].info.loaded, true);
    assert.equal(runs[1].info.simd, 'portable');
    assert.equal(runs[1].info.sha, 'portable');
    assert.equal(runs[2].info.loaded, false);
    assert.equal(runs[2].info.sha, 'node:crypto');
    assert.match(runs[2].info.reason, /TTJ_NATIVE=0/);
    for (const k of ['fp', 'zero', 'h', 'r']) {
      assert.deepEqual(runs[1][k], runs[0][k], `portable C: ${k}`);
      assert.deepEqual(runs[2][k], runs[0][k], `TypeScript: ${k}`);
    }
  });

  it('warns once, in one line, when the addon is missing, and falls back', () => {
    // A copy of the compiled wrapper in a package whose native/ was never built.
    const root = tmpDir('ttj-native-');
    try {
      writeFileSync(join(root, 'package.json'), '{"type":"module"}');
      mkdirSync(join(root, 'native'));
      const dir = join(root, 'dist', 'src', 'native');
      cpSync(dirname(INDEX), dir, { recursive: true });
      const code = `
        import * as m from ${JSON.stringify(pathToFileURL(join(dir, 'index.js')).href)};
        const img = Buffer.alloc(8 * 4096, 7);
        console.log(JSON.stringify({ info: m.nativeInfo(), native: m.nativeImpl === undefined, fp: m.scanPages(img, 4096).fingerprints.toString('hex') }));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, TTJ_NATIVE: undefined }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^ttj: native page scanner not loaded \(.*npm run build:native.*\); using the TypeScript fallback$/);
      const out = JSON.parse(r.stdout);
      assert.equal(out.info.loaded, false);
      assert.equal(out.info.sha, 'node:crypto');
      assert.equal(out.native, true);
      assert.equal(out.fp, scanPages(Buffer.alloc(8 * 4096, 7), 4096).fingerprints.toString('hex'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('TTJ_NATIVE=0 uses the fallback silently (no warning on stderr)', () => {
    const r = execFileSync(process.execPath, ['--input-type=module', '-e', `import { nativeInfo } from ${JSON.stringify(pathToFileURL(INDEX).href)}; console.error('done', nativeInfo().loaded);`], {
      env: { ...process.env, TTJ_NATIVE: '0' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(r, '');
  });

  it('hashes pages and ranges exactly like node:crypto, in both implementations, sync and async', async () => {
    const n = addon();
    for (const ps of [512, 4096, 65536]) {
      const buf = image(70, ps, ps);
      const pfns = Uint32Array.from([0, 5, 69, 5, 33, 1, 2, 3, 60]);
      const want = Buffer.concat([...pfns].map((p) => sha(buf.subarray(p * ps, (p + 1) * ps))));
      assert.deepEqual(n.sha256Pages(buf, ps, pfns), want, `native ${ps}`);
      assert.deepEqual(fallback.sha256Pages(buf, ps, pfns), want, `fallback ${ps}`);
      assert.deepEqual(sha256Pages(buf, ps, pfns), want);
      assert.deepEqual(await sha256PagesAsync(buf, ps, pfns), want);
      assert.deepEqual(await n.sha256PagesAsync(buf, ps, pfns), want);
      assert.deepEqual(n.sha256Pages(buf, ps, new Uint32Array(0)), Buffer.alloc(0));
    }
    // Padding edges: lengths around the 55/56/64-byte boundaries.
    const buf = image(64, 4096, 1);
    const lens = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 4096, 100000];
    const offsets = Uint32Array.from(lens.map((_, i) => i * 7));
    const lengths = Uint32Array.from(lens);
    const ranges = Buffer.concat(lens.map((l, i) => sha(buf.subarray(i * 7, i * 7 + l))));
    assert.deepEqual(n.sha256Ranges(buf, offsets, lengths), ranges);
    assert.deepEqual(fallback.sha256Ranges(buf, offsets, lengths), ranges);
    assert.deepEqual(sha256Ranges(buf, offsets, lengths), ranges);
  });

  it('hashes many whole buffers in one job like node:crypto, native and fallback, small and split across threads', async () => {
    const n = addon();
    const r = rng(11);
    // Neighbours of equal length are hashed two at a time natively (SHA-NI x2): pairs of
    // every tail shape (short, one padding block, two), unequal neighbours, odd counts.
    const pairs = [0, 0, 55, 55, 56, 56, 63, 63, 64, 64, 119, 119, 120, 120, 4096, 4097, 4097, 65536, 65536, 7];
    for (const sizes of [[], [0], [1, 55, 56, 64, 65536], pairs, Array.from({ length: 301 }, () => 65536)]) {
      // Views of one large buffer at odd offsets, and separate Uint8Arrays.
      const backing = Buffer.alloc(sizes.reduce((a, b) => a + b + 3, 0));
      for (let i = 0; i < backing.length; i++) backing[i] = r() & 0xff;
      let at = 0;
      const bufs = sizes.map((len, i) => {
        const v = i % 2 ? backing.subarray(at + 3, at + 3 + len) : new Uint8Array(backing.subarray(at, at + len));
        at += len + 3;
        return v;
      });
      const want = Buffer.concat(bufs.map((b) => sha(b)));
      assert.deepEqual(await n.sha256BuffersAsync(bufs), want, `native, ${sizes.length} buffers`);
      assert.deepEqual(await fallback.sha256BuffersAsync(bufs), want, `fallback, ${sizes.length} buffers`);
      assert.deepEqual(await sha256BuffersAsync(bufs), want);
    }
    for (const impl of [n, fallback, { sha256BuffersAsync }]) {
      assert.throws(() => impl.sha256BuffersAsync(Buffer.alloc(3) as never), TypeError);
      assert.throws(() => impl.sha256BuffersAsync([Buffer.alloc(3), 'x'] as never), TypeError);
      assert.throws(() => impl.sha256BuffersAsync([new Uint16Array(2)] as never), TypeError);
    }
  });

  it('splits large scans and hashes across threads with the same answers as the fallback', async () => {
    const n = addon();
    const ps = 4096;
    const img = image(12000, ps, 3);
    const want = fallback.scanPages(img, ps);
    sameScan(n.scanPages(img, ps), want, 'sync');
    sameScan(await n.scanPagesAsync(img, ps), want, 'async');
    sameScan(await scanPagesAsync(img, ps), want, 'wrapper async');
    const prev = Buffer.from(want.fingerprints);
    prev[16 * 11999] ^= 1;
    prev[16 * 5] ^= 1;
    const again = await scanPagesAsync(img, ps, prev);
    assert.deepEqual([...again.dirty], [5, 11999]);
    const all = Uint32Array.from({ length: 12000 }, (_, i) => 11999 - i);
    const hashes = await sha256PagesAsync(img, ps, all);
    assert.deepEqual(hashes, n.sha256Pages(img, ps, all));
    for (const i of [0, 1, 5999, 6000, 11999]) assert.deepEqual(hashes.subarray(32 * i, 32 * i + 32), sha(img.subarray(all[i]! * ps, (all[i]! + 1) * ps)));
    // Several async calls at once.
    const many = await Promise.all([0, 1, 2, 3].map(() => scanPagesAsync(img, ps)));
    for (const m of many) sameScan(m, want, 'concurrent');
  });

  it('gathers pages into a staging buffer', () => {
    const n = addon();
    const buf = image(16, 4096, 9);
    const pfns = Uint32Array.from([5, 0, 15, 5]);
    const want = Buffer.concat([...pfns].map((p) => buf.subarray(p * 4096, (p + 1) * 4096)));
    assert.deepEqual(gatherPages(buf, 4096, pfns), want);
    assert.deepEqual(n.gatherPages(buf, 4096, pfns), want);
    assert.deepEqual(fallback.gatherPages(buf, 4096, pfns), want);
    const out = Buffer.alloc(5 * 4096, 0xee);
    assert.equal(gatherPages(buf, 4096, pfns, out), out);
    assert.deepEqual(out.subarray(0, want.length), want);
    assert.ok(out.subarray(want.length).every((x) => x === 0xee));
    const plain = new Uint8Array(4 * 4096);
    const r = gatherPages(buf, 4096, pfns, plain);
    assert.ok(Buffer.isBuffer(r) && r.buffer === plain.buffer);
    assert.deepEqual(Buffer.from(plain), want);
    assert.equal(gatherPages(buf, 4096, new Uint32Array(0)).length, 0);
  });

  it('refuses bad arguments with a TypeError (RangeError for a pfn out of range), in TypeScript and in the addon', () => {
    const n = addon();
    const buf = Buffer.alloc(8192);
    const any = (x: unknown) => x as never;
    for (const [name, impl] of [
      ['wrapper', { scanPages, sha256Pages, sha256Ranges, gatherPages, scanPagesAsync, sha256PagesAsync }],
      ['addon', n],
      ['fallback', fallback],
    ] as const) {
      const m = `${name}`;
      assert.throws(() => impl.scanPages(Buffer.alloc(5000), 4096), TypeError, `${m}: length not a multiple`);
      for (const ps of [3000, 256, 4095, 2 << 20, 0, -4096, NaN, Infinity, 4096.5, 2 ** 40, '4096', null, undefined]) {
        assert.throws(() => impl.scanPages(buf, any(ps)), TypeError, `${m}: page size ${String(ps)}`);
        assert.throws(() => impl.sha256Pages(buf, any(ps), new Uint32Array(0)), TypeError, `${m}: sha page size ${String(ps)}`);
      }
      assert.throws(() => impl.scanPages(buf, 4096, Buffer.alloc(31)), TypeError, `${m}: prev too short`);
      assert.throws(() => impl.scanPages(buf, 4096, Buffer.alloc(48)), TypeError, `${m}: prev too long`);
      assert.throws(() => impl.scanPages(buf, 4096, any('x'.repeat(32))), TypeError, `${m}: prev a string`);
      assert.throws(() => impl.scanPages(any('nope'), 4096), TypeError, `${m}: buffer a string`);
      assert.throws(() => impl.scanPages(any(new Uint16Array(4096)), 4096), TypeError, `${m}: a Uint16Array`);
      assert.throws(() => impl.scanPages(any(undefined), any(undefined)), TypeError, `${m}: no arguments`);
      assert.throws(() => impl.scanPagesAsync(buf, 3000), TypeError, `${m}: async page size`);
      assert.throws(() => impl.sha256Pages(buf, 4096, Uint32Array.from([2])), RangeError, `${m}: pfn out of range`);
      assert.throws(() => impl.sha256Pages(buf, 4096, Uint32Array.from([0, 0xffffffff])), RangeError, `${m}: pfn 2^32-1`);
      assert.throws(() => impl.sha256PagesAsync(buf, 4096, Uint32Array.from([9])), RangeError, `${m}: async pfn out of range`);
      assert.throws(() => impl.sha256Pages(buf, 4096, any([0])), TypeError, `${m}: pfns an array`);
      assert.throws(() => impl.sha256Pages(buf, 4096, any(new Int32Array([0]))), TypeError, `${m}: pfns an Int32Array`);
      assert.throws(() => impl.gatherPages(buf, 4096, Uint32Array.from([0, 1]), Buffer.alloc(4096)), TypeError, `${m}: out too small`);
      assert.throws(() => impl.gatherPages(buf, 4096, Uint32Array.from([2])), RangeError, `${m}: gather pfn out of range`);
      assert.throws(() => impl.sha256Ranges(buf, Uint32Array.from([8000]), Uint32Array.from([200])), RangeError, `${m}: range out of the buffer`);
      assert.throws(() => impl.sha256Ranges(buf, Uint32Array.from([0]), new Uint32Array(2)), TypeError, `${m}: ranges of two lengths`);
    }
    // The addon called bare, with nothing at all.
    const bare = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const f of ['scanPages', 'scanPagesAsync', 'sha256Pages', 'sha256PagesAsync', 'sha256Ranges', 'gatherPages']) assert.throws(() => bare[f]!(), TypeError, f);
  });

  it('does not crash on released buffers: detached views, transfers during an async scan, garbage collection', async () => {
    const n = addon();
    // A view whose ArrayBuffer was transferred away reads as length 0: every
    // implementation refuses it (buffer, prev, pfns or out) with a TypeError.
    const detached = <T extends ArrayBufferView>(v: T): T => {
      structuredClone(v.buffer, { transfer: [v.buffer as ArrayBuffer] });
      assert.equal(v.byteLength, 0);
      return v;
    };
    const view = detached(new Uint8Array(new ArrayBuffer(8192)));
    const buf = Buffer.alloc(8192);
    for (const [name, impl] of [
      ['wrapper', { scanPages, scanPagesAsync, sha256Pages, sha256PagesAsync, sha256Ranges, gatherPages }],
      ['addon', n],
      ['fallback', fallback],
    ] as const) {
      assert.throws(() => impl.scanPages(view, 4096), /TypeError: buffer is detached/, `${name}: scan`);
      assert.throws(() => impl.scanPages(view, 4096, Buffer.alloc(32)), TypeError, `${name}: scan with prev`);
      assert.throws(() => impl.scanPagesAsync(view, 4096), TypeError, `${name}: async scan`);
      assert.throws(() => impl.scanPages(buf, 4096, detached(new Uint8Array(32))), /prev is detached/, `${name}: prev`);
      assert.throws(() => impl.sha256Pages(view, 4096, new Uint32Array(0)), TypeError, `${name}: sha`);
      assert.throws(() => impl.sha256PagesAsync(view, 4096, new Uint32Array(0)), TypeError, `${name}: async sha`);
      assert.throws(() => impl.sha256Pages(buf, 4096, detached(Uint32Array.from([0]))), /pfns is detached/, `${name}: pfns`);
      assert.throws(() => impl.gatherPages(view, 4096, new Uint32Array(0)), TypeError, `${name}: gather`);
      assert.throws(() => impl.gatherPages(buf, 4096, Uint32Array.from([1]), detached(new Uint8Array(4096))), /out is detached/, `${name}: out`);
      assert.throws(() => impl.sha256Ranges(view, new Uint32Array(0), new Uint32Array(0)), TypeError, `${name}: ranges`);
      // An empty view that was never detached is fine.
      assert.equal(impl.scanPages(new Uint8Array(0), 4096).dirty.length, 0, `${name}: empty`);
      assert.equal(impl.scanPages(Buffer.alloc(0), 4096).fingerprints.length, 0, `${name}: empty Buffer`);
    }

    // Transferred while an async scan or hash runs: the result is refused, the process lives on.
    const big = new Uint8Array(new ArrayBuffer(64 << 20));
    big.fill(3, 0, 1 << 20);
    const scan = n.scanPagesAsync(big, 4096);
    const hash = n.sha256PagesAsync(
      big,
      4096,
      Uint32Array.from({ length: 16384 }, (_, i) => i),
    );
    const keep = structuredClone(big.buffer, { transfer: [big.buffer] });
    await assert.rejects(scan, /detached/);
    await assert.rejects(hash, /detached/);
    assert.equal(keep.byteLength, 64 << 20);

    // Only the pending call references the buffer; collect garbage meanwhile.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const img = image(4096, 4096, 11);
    const want = fallback.scanPages(img, 4096).fingerprints.toString('hex');
    const wantSha = sha(img.subarray(4096, 8192)).toString('hex');
    const pending = [0, 1, 2].map(() => n.scanPagesAsync(Buffer.from(img), 4096));
    const pendingSha = n.sha256PagesAsync(Buffer.from(img), 4096, Uint32Array.from([1]));
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    for (const p of await Promise.all(pending)) assert.equal(p.fingerprints.toString('hex'), want);
    assert.equal((await pendingSha).toString('hex'), wantSha);
    gc();
  });

  it('works from worker threads with the same answers', async () => {
    addon();
    const img = image(2048, 4096, 9);
    const here = scanPages(img, 4096);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(pathToFileURL(INDEX).href)}).then(async (m) => {
        const buf = Buffer.from(workerData);
        const r = m.scanPages(buf, 4096);
        const a = await m.scanPagesAsync(buf, 4096);
        const h = await m.sha256PagesAsync(buf, 4096, Uint32Array.from([0, 1, 2047]));
        parentPort.postMessage({ fp: r.fingerprints.toString('hex'), afp: a.fingerprints.toString('hex'), zero: [...r.zero], h: h.toString('hex'), info: m.nativeInfo() });
      }).catch((e) => { throw e; });`;
    const run = async () => {
      const w = new Worker(code, { eval: true, workerData: img });
      try {
        return await new Promise<{ fp: string; afp: string; zero: number[]; h: string; info: { loaded: boolean } }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (c) => reject(new Error(`worker exited with ${c}`)));
        });
      } finally {
        await w.terminate();
      }
    };
    const results = await Promise.all([run(), run()]);
    const h = sha256Pages(img, 4096, Uint32Array.from([0, 1, 2047])).toString('hex');
    for (const msg of results) {
      assert.equal(msg.info.loaded, true);
      assert.equal(msg.fp, here.fingerprints.toString('hex'));
      assert.equal(msg.afp, msg.fp);
      assert.deepEqual(msg.zero, [...here.zero]);
      assert.equal(msg.h, h);
    }
  });
});
