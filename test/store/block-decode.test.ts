import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_HEADER, encodeBlock } from '../../src/store/block-codec.js';
import { BlockDecodePool, DecodeError, decodeBlockInto, ownBuffer, type DecodeBuffers, type DecodeJob, type Decoded } from '../../src/store/block-decode.js';
import { JournalCipher } from '../../src/store/cipher.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { memoryImage } from '../helpers/images.js';
import { ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest();

/** Text-like pages (compress well) or random ones (stored as they are). */
function items(n: number, random: boolean, seed: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => (random ? randomBytes(4096 + i) : Buffer.from(`page ${seed}/${i} `.repeat(300 + i))));
}

/** An encoded block as a pack file holds it, and the job that decodes and hashes its items. */
function block(its: Buffer[]): { bytes: Buffer; job: DecodeJob } {
  const b = encodeBlock(its, 1);
  const bytes = Buffer.concat([b.head, ...b.body]);
  const offsets = new Uint32Array(its.length);
  let at = 0;
  its.forEach((it, i) => {
    offsets[i] = at;
    at += it.length;
  });
  return { bytes, job: { len: bytes.length, rawLen: b.rawLen, stored: b.clen === b.rawLen, offsets, lengths: Uint32Array.from(its, (it) => it.length) } };
}

/** `bytes` in reused buffers, as a bulk reader holds them (larger than the block, from an earlier one). */
function buffers(bytes: Buffer, spare = 1000): DecodeBuffers {
  const packed = ownBuffer(bytes.length + spare);
  bytes.copy(packed);
  return { packed, raw: ownBuffer(16) };
}

/** What a decode gave, copied (the views are only valid until the buffers are reused). */
const copyOf = (d: Decoded) => ({ items: Buffer.from(d.items), hashes: Buffer.from(d.hashes ?? Buffer.alloc(0)) });

describe('block decoding: on the JS thread and in the worker pool', function () {
  const tmp = useTmp();
  let pool: BlockDecodePool;
  beforeEach(() => (pool = new BlockDecodePool(2)));
  afterEach(() => pool.close());

  it('both give the same items and the SHA-256 of each, for compressed and stored blocks, many at once with reused buffers', async () => {
    const blocks = [items(40, false, 1), items(3, true, 2), items(1, false, 3), items(25, false, 4), items(5, true, 5)].map((its) => ({ its, ...block(its) }));
    assert.ok(blocks.some((b) => b.job.stored) && blocks.some((b) => !b.job.stored), 'both kinds of block');
    // Two readers, each reusing its buffers from block to block, both workers busy.
    const reader = async (mine: typeof blocks) => {
      const bufs: DecodeBuffers = { packed: ownBuffer(0), raw: ownBuffer(0) };
      for (const b of mine) {
        if (bufs.packed.length < b.bytes.length) bufs.packed = ownBuffer(b.bytes.length);
        b.bytes.copy(bufs.packed);
        const got = copyOf(await pool.decode(bufs, b.job));
        const inline = copyOf(decodeBlockInto(buffers(b.bytes), b.job));
        assert.ok(got.items.equals(Buffer.concat(b.its)), 'the items, in the pool');
        assert.ok(inline.items.equals(got.items), 'the same items on the JS thread');
        assert.ok(got.hashes.equals(Buffer.concat(b.its.map(sha))), 'the SHA-256 of each item, in the pool');
        assert.ok(inline.hashes.equals(got.hashes), 'the same hashes on the JS thread');
      }
    };
    await Promise.all([reader([...blocks, ...blocks]), reader([...blocks].reverse())]);
  });

  it('a damaged body or a wrong length fails alike on both paths, and the pool keeps working', async () => {
    const b = block(items(30, false, 7));
    assert.equal(b.job.stored, false);
    const flipped = Buffer.from(b.bytes);
    flipped[BLOCK_HEADER + Math.floor((flipped.length - BLOCK_HEADER) / 2)]! ^= 0xff;
    const cases: [string, Buffer, DecodeJob, string][] = [
      ['a flipped byte', flipped, b.job, 'does not decompress'],
      ['a raw length the frame does not have', b.bytes, { ...b.job, rawLen: b.job.rawLen + 4096 }, 'has the wrong length'],
    ];
    for (const [what, bytes, job, failure] of cases) {
      assert.throws(
        () => decodeBlockInto(buffers(bytes), job),
        (e) => e instanceof DecodeError && e.failure === failure,
        `${what}, on the JS thread`,
      );
      await assert.rejects(pool.decode(buffers(bytes), job), (e) => e instanceof DecodeError && e.failure === failure, `${what}, in the pool`);
    }
    const ok = copyOf(await pool.decode(buffers(b.bytes), b.job));
    assert.ok(ok.hashes.equals(copyOf(decodeBlockInto(buffers(b.bytes), b.job)).hashes));
  });

  it('sealed blocks (an encrypted journal) are opened where they are decoded: the same items and hashes in the pool and on the JS thread; a flipped byte, another place, a plain block fail alike', async () => {
    const cipher = JournalCipher.fromMasterKey(randomBytes(32), randomBytes(16));
    const place = 'pack 0 offset 4096';
    const sealed = (its: Buffer[]) => {
      const b = encodeBlock(its, 1, { cipher, place });
      const bytes = Buffer.concat([b.head, ...b.body]);
      const plain = block(its);
      return { its, bytes, job: { ...plain.job, len: bytes.length, stored: false, open: cipher.openKey(place) } };
    };
    const blocks = [sealed(items(30, false, 21)), sealed(items(3, true, 22))];
    for (const b of [...blocks, ...blocks]) {
      const bufs: DecodeBuffers = { packed: ownBuffer(b.bytes.length), raw: ownBuffer(0) };
      b.bytes.copy(bufs.packed);
      const got = copyOf(await pool.decode(bufs, b.job));
      const inline = copyOf(decodeBlockInto(buffers(b.bytes), b.job));
      assert.ok(got.items.equals(Buffer.concat(b.its)), 'the items, in the pool');
      assert.ok(got.hashes.equals(Buffer.concat(b.its.map(sha))), 'their SHA-256, in the pool');
      assert.ok(inline.items.equals(got.items) && inline.hashes.equals(got.hashes), 'the same on the JS thread');
    }
    const b = blocks[0]!;
    const flipped = Buffer.from(b.bytes);
    flipped[BLOCK_HEADER + 100]! ^= 0x01;
    const plain = block(b.its);
    const cases: [string, Buffer, DecodeJob, string][] = [
      ['a flipped byte', flipped, b.job, 'does not decrypt: it is damaged, moved, or of another key'],
      ['another place', b.bytes, { ...b.job, open: cipher.openKey('pack 0 offset 0') }, 'does not decrypt: it is damaged, moved, or of another key'],
      ['a plain block', plain.bytes, { ...plain.job, stored: false, open: cipher.openKey(place) }, 'is not sealed'],
      ['a raw length the block does not have', b.bytes, { ...b.job, rawLen: b.job.rawLen + 1 }, 'has a damaged header'],
    ];
    for (const [what, bytes, job, failure] of cases) {
      assert.throws(
        () => decodeBlockInto(buffers(bytes), job),
        (e) => e instanceof DecodeError && e.failure === failure,
        `${what}, on the JS thread`,
      );
      await assert.rejects(pool.decode(buffers(bytes), job), (e) => e instanceof DecodeError && e.failure === failure, `${what}, in the pool`);
    }
  });

  it('placed items (a fold): checked against the hashes expected and written at their places in a file, alike in the pool and on the JS thread; a mismatch names the item and writes none', async () => {
    for (const its of [items(20, false, 31), items(4, true, 32)]) {
      const b = block(its);
      // The first two next to each other (one write), then the others in reverse order, with gaps.
      const at = new Float64Array(its.length);
      at[1] = its[0]!.length;
      let size = its[0]!.length + its[1]!.length + 64;
      for (let k = its.length - 1; k >= 2; k--) {
        at[k] = size;
        size += its[k]!.length + 64;
      }
      const expect = new Uint8Array(Buffer.concat(its.map(sha)));
      const placed = async (how: 'pool' | 'inline', e = expect) => {
        const path = tmp.path(`placed-${how}-${its.length}`);
        const fd = openSync(path, 'w+');
        try {
          const job = { ...b.job, place: { fd, at, expect: e } };
          const d = how === 'pool' ? await pool.decode(buffers(b.bytes), job) : decodeBlockInto(buffers(b.bytes), job);
          return { mismatch: d.mismatch, bytes: readFileSync(path) };
        } finally {
          closeSync(fd);
        }
      };
      const fromPool = await placed('pool');
      assert.equal(fromPool.mismatch, undefined);
      its.forEach((it, k) => assert.ok(fromPool.bytes.subarray(at[k], at[k]! + it.length).equals(it), `item ${k} in place, from the pool`));
      const inline = await placed('inline');
      assert.equal(inline.mismatch, undefined);
      assert.ok(inline.bytes.equals(fromPool.bytes), 'the same file from the JS thread');
      // Item 2 expected to be something else: neither path writes anything, both name item 2.
      const wrong = new Uint8Array(expect);
      wrong[2 * 32 + 5]! ^= 1;
      for (const how of ['pool', 'inline'] as const) assert.deepEqual(await placed(how, wrong), { mismatch: 2, bytes: Buffer.alloc(0) }, how);
    }
  });

  it('ttj fold checks each page where it is decoded: a flipped byte in a stored block fails it with TTJ_CORRUPT_BLOB naming the page, with the pool and with TTJ_WORKERS=0', async () => {
    const J = tmp.path('j');
    // 16 MiB of random pages: stored blocks (no zstd checksum), a bulk read.
    const mem = randomBytes(4096 * 4096);
    writeFileSync(tmp.path('m.raw'), mem);
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { memory: tmp.path('m.raw') });
    await w.close();
    const p = join(J, 'packs', readdirSync(join(J, 'packs')).sort().pop()!);
    const bytes = readFileSync(p);
    const heads: number[] = [];
    for (let at = bytes.indexOf('TTJR'); at >= 0; at = bytes.indexOf('TTJR', at + 1)) heads.push(at);
    assert.ok(heads.length > 8, `${heads.length} stored blocks`);
    // Byte 100 of the first item of a block in the middle: one page of the image.
    const at = heads[Math.floor(heads.length / 2)]! + BLOCK_HEADER + 100;
    const page = bytes.subarray(at - 100, at - 100 + 4096);
    assert.ok(mem.indexOf(page) >= 0, 'a page of the image');
    const addr = sha(page).toString('hex');
    bytes[at]! ^= 0x01;
    writeFileSync(p, bytes);
    for (const env of [{ ...process.env }, { ...process.env, TTJ_WORKERS: '0' }]) {
      const f = ttj(['fold', J, '--at', 'head', '--out', tmp.path(`out-${env.TTJ_WORKERS ?? 'pool'}`), '--json'], { env });
      assert.notEqual(f.status, 0);
      assert.equal(f.json.error.code, 'TTJ_CORRUPT_BLOB', f.stdout);
      assert.equal(f.json.error.addr, addr);
    }
  });

  it('the pool does not keep a process alive: one that started the workers and decoded a block exits by itself (started with a heap size, as ttj nbd and record are)', () => {
    const mod = new URL('../../src/store/block-decode.js', import.meta.url).href;
    const script = `import { decodePool, ownBuffer } from ${JSON.stringify(mod)};
      const p = decodePool(); p.warm();
      const bytes = Buffer.from(${JSON.stringify(block(items(3, false, 9)).bytes.toString('base64'))}, 'base64');
      const packed = ownBuffer(bytes.length); bytes.copy(packed);
      const d = await p.decode({ packed, raw: ownBuffer(0) }, { len: bytes.length, rawLen: bytes.readUInt32LE(4), stored: false });
      console.log(d.items.length);`;
    // bin/run.js starts the servers with --initial-heap-size, a flag a worker refuses.
    const r = spawnSync(process.execPath, ['--initial-heap-size=256', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, `exited by itself: ${r.stderr}`);
    assert.equal(r.stderr, '', 'the workers started');
    assert.ok(Number(r.stdout) > 0);
  });

  it('ttj fold and verify --deep give the same answers with the pool and with TTJ_WORKERS=0, and verify --deep catches a flipped byte on both', async () => {
    const J = tmp.path('j');
    // 24 MiB of memory-like pages: a bulk read of many blocks.
    const mem = memoryImage(6144, 4096, 11);
    writeFileSync(tmp.path('m.raw'), mem);
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { memory: tmp.path('m.raw') });
    await w.close();
    const runs = { pool: { ...process.env }, inline: { ...process.env, TTJ_WORKERS: '0' } };
    const checked: [number, number][] = [];
    for (const [name, env] of Object.entries(runs)) {
      const f = ttj(['fold', J, '--at', 'head', '--out', tmp.path(`out-${name}`), '--json'], { env });
      assert.equal(f.status, 0, f.stderr);
      assert.ok(readFileSync(join(tmp.path(`out-${name}`), 'memory.raw')).equals(mem), `${name}: the bytes appended`);
      const v = ttj(['verify', J, '--deep', '--json'], { env });
      assert.equal(v.status, 0, v.stderr);
      checked.push([v.json.blobsChecked, v.json.bytesChecked]);
    }
    assert.ok(checked[0]![0] > 1000, 'many blobs re-hashed');
    assert.deepEqual(checked[1], checked[0], 'the same blobs and bytes re-hashed');
    const p = join(J, 'packs', readdirSync(join(J, 'packs')).sort().pop()!);
    const bytes = readFileSync(p);
    const heads: number[] = [];
    for (let at = bytes.indexOf('TTJB'); at >= 0; at = bytes.indexOf('TTJB', at + 1)) heads.push(at);
    bytes[heads[Math.floor(heads.length / 2)]! + BLOCK_HEADER + 100]! ^= 0x01;
    writeFileSync(p, bytes);
    for (const [name, env] of Object.entries(runs)) {
      const v = ttj(['verify', J, '--deep', '--json'], { env });
      assert.notEqual(v.status, 0, `${name}: verify --deep fails`);
      assert.match(v.stdout + v.stderr, /TTJ_CORRUPT_BLOB/, name);
    }
  });
});
