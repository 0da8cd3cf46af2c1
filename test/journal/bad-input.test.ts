import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ErrorCodes, isTtjError, type ErrorCode } from '../../src/errors.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { initJournal } from '../../src/journal/init-journal.js';
import { memoryImage, png } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';

const PS = 4096;
const code = (c: ErrorCode) => (e: unknown) => isTtjError(e, c);

/** What must not change when an append is refused. */
function snapshot(dir: string) {
  const packs = readdirSync(join(dir, 'packs')).map((n) => `${n}:${statSync(join(dir, 'packs', n)).size}`);
  return { packs };
}

describe('bad input is refused with a stable code and the journal is left unchanged', function () {
  const tmp = useTmp();
  let J: string;

  beforeEach(async () => {
    J = tmp.path('j');
    writeFileSync(tmp.path('mem.raw'), memoryImage(64, PS, 1));
    writeFileSync(tmp.path('d.img'), Buffer.alloc(16 * PS, 1));
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { memory: tmp.path('mem.raw'), disks: [{ name: 'd', path: tmp.path('d.img') }] });
    await w.close();
  });

  async function refused(input: Parameters<typeof appendImages>[1], c: ErrorCode) {
    const before = snapshot(J);
    const w = await JournalWriter.openWriter(J);
    const head = w.headSeqNumber;
    try {
      await assert.rejects(appendImages(w, input), code(c));
      assert.equal(w.headSeqNumber, head);
    } finally {
      await w.close();
    }
    assert.deepEqual(snapshot(J), before);
    const j = await Journal.open(J);
    try {
      assert.equal((await j.head()).seq, head);
      assert.equal((await verify(j, { deep: true })).ok, true);
    } finally {
      await j.close();
    }
  }

  it('a memory image of another size', async () => {
    writeFileSync(tmp.path('big.raw'), Buffer.alloc(128 * PS));
    await refused({ memory: tmp.path('big.raw') }, ErrorCodes.SIZE_MISMATCH);
  });

  it('a memory image that is not a whole number of pages', async () => {
    writeFileSync(tmp.path('odd.raw'), Buffer.alloc(64 * PS - 100));
    await refused({ memory: tmp.path('odd.raw') }, ErrorCodes.SIZE_MISMATCH);
  });

  it('a disk whose size changes', async () => {
    writeFileSync(tmp.path('d2.img'), Buffer.alloc(32 * PS));
    await refused({ disks: [{ name: 'd', path: tmp.path('d2.img') }] }, ErrorCodes.SIZE_MISMATCH);
  });

  it('a frame that is not a PNG (even with a good memory image beside it)', async () => {
    writeFileSync(tmp.path('f.png'), Buffer.from('GIF89a not a png at all, really not'));
    await refused({ memory: tmp.path('mem.raw'), frames: [tmp.path('f.png')] }, ErrorCodes.NOT_PNG);
  });

  it('a PNG frame with a bad CRC, cut short, with IHDR not first, without IEND or IDAT, or with bytes after IEND', async () => {
    const good = png(8, 8, 3);
    const ihdrEnd = 8 + 12 + 13;
    const idatLength = good.readUInt32BE(ihdrEnd);
    const idatEnd = ihdrEnd + 12 + idatLength;
    const flipped = Buffer.from(good);
    flipped[ihdrEnd + 8 + 2] ^= 0x01; // a byte of the compressed pixels
    const swapped = Buffer.concat([good.subarray(0, 8), good.subarray(ihdrEnd, idatEnd), good.subarray(8, ihdrEnd), good.subarray(idatEnd)]);
    const noIdat = Buffer.concat([good.subarray(0, ihdrEnd), good.subarray(idatEnd)]);
    const bad: [string, Buffer][] = [
      ['bad CRC', flipped],
      ['cut in IDAT', good.subarray(0, ihdrEnd + 20)],
      ['cut before IEND', good.subarray(0, idatEnd)],
      ['cut in IEND', good.subarray(0, good.length - 1)],
      ['IHDR not first', swapped],
      ['no IDAT', noIdat],
      ['bytes after IEND', Buffer.concat([good, Buffer.from('trailing')])],
      ['signature only', good.subarray(0, 8)],
    ];
    for (const [what, data] of bad) {
      writeFileSync(tmp.path('f.png'), data);
      await refused({ memory: tmp.path('mem.raw'), frames: [tmp.path('f.png')] }, ErrorCodes.NOT_PNG).catch((e) => assert.fail(`${what}: ${e}`));
    }
    // The good one, with an ancillary chunk too, is taken.
    const text = Buffer.from([0, 0, 0, 0, ...Buffer.from('tEXt'), 0xae, 0x42, 0x60, 0x82]);
    text.writeUInt32BE(crc32(Buffer.from('tEXt')), 8);
    const withText = Buffer.concat([good.subarray(0, ihdrEnd), text, good.subarray(ihdrEnd)]);
    const w = await JournalWriter.openWriter(J);
    try {
      assert.equal((await appendImages(w, { frames: [good, withText] })).frames.length, 2);
    } finally {
      await w.close();
    }
  });

  it('a missing file', async () => {
    await refused({ memory: tmp.path('nope.raw') }, ErrorCodes.FILE_NOT_FOUND);
    await refused({ memory: tmp.path('mem.raw'), device: tmp.path('nope.bin') }, ErrorCodes.FILE_NOT_FOUND);
  });

  it('a POINT that does not parse, or names nothing', async () => {
    const j = await Journal.open(J);
    try {
      for (const p of ['epoch:x', 'frame:-1', 'when:1', 'time:yesterday', 'label:', '']) {
        await assert.rejects(fold(j, { at: p, out: tmp.path('o') }), code(ErrorCodes.BAD_POINT), p);
      }
      for (const p of ['epoch:5', 'frame:0', 'seq:999', 'label:nothing', 'time:2001-01-01T00:00:00Z']) {
        await assert.rejects(fold(j, { at: p, out: tmp.path('o') }), code(ErrorCodes.POINT_NOT_FOUND), p);
      }
    } finally {
      await j.close();
    }
    assert.equal(existsSync(tmp.path('o', 'memory.raw')), false);
  });

  it('a directory that is not a journal', async () => {
    mkdirSync(tmp.path('plain'));
    writeFileSync(tmp.path('plain', 'x.txt'), 'hello');
    await assert.rejects(Journal.open(tmp.path('plain')), code(ErrorCodes.NOT_A_JOURNAL));
    await assert.rejects(Journal.open(tmp.path('missing')), code(ErrorCodes.NOT_A_JOURNAL));
    await assert.rejects(JournalWriter.openWriter(tmp.path('plain')), code(ErrorCodes.NOT_A_JOURNAL));
    assert.deepEqual(readdirSync(tmp.path('plain')), ['x.txt']);
    await assert.rejects(initJournal(J), code(ErrorCodes.JOURNAL_EXISTS));
    await assert.rejects(initJournal(tmp.path('k'), { pageSize: 1000 }), code(ErrorCodes.BAD_ARGUMENT));
  });

  it('a journal whose making was interrupted before its index: NOT_A_JOURNAL for readers, and an append completes it', async () => {
    const K = tmp.path('half-made');
    mkdirSync(join(K, 'packs'), { recursive: true });
    writeFileSync(join(K, 'ttj-journal.json'), JSON.stringify({ format: 'ttj-journal', version: 1 }) + '\n');
    await assert.rejects(Journal.open(K), code(ErrorCodes.NOT_A_JOURNAL));
    const w = await JournalWriter.openWriter(K);
    try {
      writeFileSync(tmp.path('m.raw'), memoryImage(4, PS, 3));
      await appendImages(w, { memory: tmp.path('m.raw') });
    } finally {
      await w.close();
    }
    const j = await Journal.open(K);
    try {
      assert.equal((await verify(j)).ok, true);
    } finally {
      await j.close();
    }
  });

  it('a frame-only append to a journal without epochs', async () => {
    writeFileSync(tmp.path('f.png'), png(4, 4, 1));
    const w = await JournalWriter.openWriter(tmp.path('empty'));
    try {
      await assert.rejects(appendImages(w, { frames: [tmp.path('f.png')] }), code(ErrorCodes.NO_EPOCH));
    } finally {
      await w.close();
    }
  });

  it('a corrupt blob met during fold: fold refuses and writes nothing', async () => {
    const pack = readdirSync(join(J, 'packs')).filter((n) => n.endsWith('.pack'))[0]!;
    const p = join(J, 'packs', pack);
    const b = readFileSync(p);
    b[40] = b[40]! ^ 0xff; // inside the first block's compressed bytes
    writeFileSync(p, b);
    const j = await Journal.open(J);
    try {
      await assert.rejects(fold(j, { at: 'epoch:0', out: tmp.path('o') }), code(ErrorCodes.CORRUPT_BLOB));
      const left = existsSync(tmp.path('o')) ? readdirSync(tmp.path('o')).filter((n) => n !== 'disks') : [];
      assert.deepEqual(left, []);
    } finally {
      await j.close();
    }
  });
});
