import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Level } from 'level';
import { ErrorCodes } from '../../src/errors.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { JournalBlockDevice } from '../../src/capture/journal-block-device.js';
import { verify } from '../../src/journal/verify.js';
import { decodeEvent, encodeEvent } from '../../src/journal/codec.js';
import { memoryImage, dirty } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';

const PS = 4096;

/** verify --deep of the journal at `dir` reports CORRUPT_BLOB, and a fold of its head (into `out`) fails with it. */
async function expectCorruptBlob(dir: string, out: string): Promise<void> {
  const j = await Journal.open(dir);
  try {
    const r = await verify(j, { deep: true });
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, ErrorCodes.CORRUPT_BLOB);
    await assert.rejects(fold(j, { at: 'head', out }), (e: { code?: string }) => e.code === ErrorCodes.CORRUPT_BLOB);
  } finally {
    await j.close();
  }
}

describe('tamper evidence', function () {
  const tmp = useTmp();
  let J: string;

  beforeEach(async () => {
    J = tmp.path('j');
    const mem = memoryImage(128, PS, 3);
    const w = await JournalWriter.openWriter(J);
    for (let e = 0; e < 3; e++) {
      dirty(mem, PS, 10, e);
      writeFileSync(tmp.path('m.raw'), mem);
      await appendImages(w, { memory: tmp.path('m.raw') });
    }
    await w.close();
  });

  async function check(deep: boolean) {
    const j = await Journal.open(J);
    try {
      return await verify(j, { deep });
    } finally {
      await j.close();
    }
  }

  it('a byte flipped in a pack file makes verify --deep fail', async () => {
    assert.equal((await check(true)).ok, true);
    const packs = readdirSync(join(J, 'packs'));
    const p = join(J, 'packs', packs[packs.length - 1]!);
    const b = readFileSync(p);
    b[Math.floor(b.length / 2)] ^= 0x01;
    writeFileSync(p, b);
    const r = await check(true);
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, ErrorCodes.CORRUPT_BLOB);
  });

  it('a byte flipped in a stored (uncompressed) block of random disk data makes verify --deep and fold fail', async () => {
    const D = tmp.path('d');
    writeFileSync(tmp.path('d.img'), randomBytes(256 * 1024));
    const w = await JournalWriter.openWriter(D);
    await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }] });
    await w.close();
    const packs = readdirSync(join(D, 'packs'));
    const p = join(D, 'packs', packs[packs.length - 1]!);
    const b = readFileSync(p);
    const at = b.indexOf(Buffer.from('TTJR'));
    assert.ok(at >= 0, 'random data is kept in a stored block');
    b[at + 16 + 1000] ^= 0x40;
    writeFileSync(p, b);
    await expectCorruptBlob(D, tmp.path('o'));
  });

  it('a byte flipped in a patch (a small disk write stored as its changed bytes) makes verify --deep and fold fail', async () => {
    const D = tmp.path('d');
    writeFileSync(tmp.path('d.img'), randomBytes(256 * 1024));
    const w = await JournalWriter.openWriter(D);
    await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }] });
    const patch = randomBytes(1000);
    await JournalBlockDevice.live(w, 'd').write(70_000, patch, { fua: true });
    await w.close();
    const packs = readdirSync(join(D, 'packs'));
    const p = join(D, 'packs', packs[packs.length - 1]!);
    const b = readFileSync(p);
    const at = b.indexOf(patch);
    assert.ok(at >= 0 && b.indexOf(patch, at + 1) < 0, 'the write is kept once, as its own bytes');
    const j0 = await Journal.open(D);
    try {
      assert.equal((await verify(j0, { deep: true })).ok, true);
    } finally {
      await j0.close();
    }
    b[at + 500] ^= 0x40;
    writeFileSync(p, b);
    await expectCorruptBlob(D, tmp.path('o'));
  });

  it('a fold reading many blocks (the bulk path, reused buffers) fails with CORRUPT_BLOB on a damaged compressed block, a damaged header or a block cut short, and leaves nothing', async () => {
    const B = tmp.path('b');
    // 64 MiB of memory-like pages: more than 16 compressed blocks of up to 1 MiB.
    const mem = memoryImage(16384, PS, 9);
    writeFileSync(tmp.path('b.raw'), mem);
    const w = await JournalWriter.openWriter(B);
    await appendImages(w, { memory: tmp.path('b.raw') });
    await w.close();
    const j0 = await Journal.open(B);
    try {
      await fold(j0, { at: 'head', out: tmp.path('ok') });
      assert.ok(readFileSync(join(tmp.path('ok'), 'memory.raw')).equals(mem), 'the bulk path folds the bytes appended');
    } finally {
      await j0.close();
    }
    const p = join(B, 'packs', readdirSync(join(B, 'packs')).sort().pop()!);
    const good = readFileSync(p);
    const heads: number[] = [];
    for (let at = good.indexOf(Buffer.from('TTJB')); at >= 0; at = good.indexOf(Buffer.from('TTJB'), at + 1)) heads.push(at);
    assert.ok(heads.length > 16, `${heads.length} compressed blocks`);
    const mid = heads[Math.floor(heads.length / 2)]!;
    const damage: [string, (b: Buffer) => Buffer][] = [
      ['a byte of a compressed frame', (b) => ((b[mid + 16 + 200] ^= 0x10), b)],
      ['a block header', (b) => ((b[mid + 5] ^= 0x01), b)],
      ['the last block cut short', (b) => b.subarray(0, b.length - 100)],
    ];
    for (const [what, hurt] of damage) {
      writeFileSync(p, hurt(Buffer.from(good)));
      const out = tmp.path(`bad-${heads.length}-${what.length}`);
      const j = await Journal.open(B);
      try {
        await assert.rejects(fold(j, { at: 'head', out }), (e: { code?: string }) => e.code === ErrorCodes.CORRUPT_BLOB, what);
        assert.deepEqual(existsSync(out) ? readdirSync(out).filter((n) => n !== 'disks') : [], [], `${what}: nothing left in the output`);
      } finally {
        await j.close();
      }
    }
    writeFileSync(p, good);
  });

  it('a changed event breaks the hash chain and verify names its seq', async () => {
    const db = new Level<string, Buffer>(join(J, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const key = 'e/' + (5).toString(16).padStart(14, '0');
    const ev = decodeEvent((await db.get(key))!, 5);
    ev.timeUs = Number(ev.timeUs) + 1; // a subtle change that still decodes
    await db.put(key, Buffer.from(encodeEvent(ev)));
    await db.close();
    const r = await check(false);
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, ErrorCodes.CORRUPT_EVENT);
    assert.equal(r.error!.seq, 5);
  });

  it('a changed page address fails the state root at its epoch commit, in verify and in fold', async () => {
    const db = new Level<string, Buffer>(join(J, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    // Swap two pages in the LAST page batch (after the keyframe, so fold replays it)
    // and rewrite the chain after it, so that only the state root can tell.
    let seqOfPages = -1;
    for await (const [k, v] of db.iterator({ gte: 'e/', lt: 'e0' })) {
      const ev = decodeEvent(v);
      if (ev.body === 'pages' && ev.pages!.pfns!.length > 1) seqOfPages = parseInt(k.slice(2), 16);
    }
    let prev: Buffer | undefined;
    const { sha256 } = await import('../../src/util/hash.js');
    for await (const [k, v] of db.iterator({ gte: 'e/', lt: 'e0' })) {
      const seq = parseInt(k.slice(2), 16);
      const ev = decodeEvent(v, seq);
      if (prev) ev.prevHash = prev;
      if (seq === seqOfPages) {
        const pf = ev.pages!.pfns!;
        [pf[0], pf[1]] = [pf[1]!, pf[0]!]; // two pages swapped
      }
      const bytes = Buffer.from(encodeEvent(ev));
      await db.put(k, bytes);
      prev = sha256(bytes);
    }
    const h = Buffer.from((await db.get('h'))!);
    prev!.copy(h, 6);
    await db.put('h', h);
    await db.close();
    const r = await check(false);
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, ErrorCodes.STATE_ROOT_MISMATCH);
    assert.ok(r.error!.seq! > seqOfPages);
    const j = await Journal.open(J);
    try {
      await assert.rejects(fold(j, { at: 'head', out: tmp.path('o') }), (e: { code?: string }) => e.code === ErrorCodes.STATE_ROOT_MISMATCH);
    } finally {
      await j.close();
    }
  });
});
