/**
 * `LiveVerifier` (verify kept up to date as a journal grows, what `ttj ui` runs) and
 * `verifyPointDeep` (the blobs one point needs, re-read and re-hashed).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { ErrorCodes } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { decodeEvent, encodeEvent } from '../../src/journal/codec.js';
import { Journal } from '../../src/journal/journal.js';
import { generateKeyFiles, loadSigningKey, loadTrustedKey } from '../../src/journal/signing-key.js';
import { LiveVerifier } from '../../src/journal/verify-live.js';
import { verifyPointDeep } from '../../src/journal/verify-point.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { dirty, memoryImage, png } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const PS = 4096;

/** Appends `n` epochs (memory of 64 pages, a frame each) to the journal at `dir`. */
async function appendEpochs(dir: string, n: number, opts: Parameters<typeof JournalWriter.openWriter>[1] = {}): Promise<void> {
  const w = await JournalWriter.openWriter(dir, opts);
  try {
    const mem = memoryImage(64, PS, 7);
    for (let e = 0; e < n; e++) {
      dirty(mem, PS, 5, w.nextEpochNumber * 100 + e);
      await appendImages(w, { memory: Buffer.from(mem), frames: [png(8, 8, w.nextEpochNumber)] });
    }
  } finally {
    await w.close();
  }
}

describe('LiveVerifier and verifyPointDeep', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('verifies up to the head, then only what is appended since, as verify does', async () => {
    const J = tmp.path('j');
    await appendEpochs(J, 3);
    const j = await Journal.open(J);
    try {
      const live = new LiveVerifier(j);
      const a = await live.update();
      assert.equal(a.error, undefined, JSON.stringify(a.error));
      assert.equal(a.verifiedSeq, (await j.storeHead())!.seq);
      assert.equal(a.indexChecked, true);
      assert.equal(a.epochs, 3);
      await appendEpochs(J, 2);
      const b = await live.update();
      const full = await verify(j);
      assert.equal(b.error, undefined, JSON.stringify(b.error));
      assert.equal(b.verifiedSeq, (await j.storeHead())!.seq);
      assert.equal(b.events, full.events);
      assert.equal(b.epochs, 5);
      assert.equal(b.frames, full.frames);
      assert.equal(b.keyframes, full.keyframes);
    } finally {
      await j.close();
    }
  });

  it('a changed event: the error names its seq, nothing at or after it is verified', async () => {
    const J = tmp.path('t');
    await appendEpochs(J, 3);
    const db = new Level<string, Buffer>(join(J, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const key = 'e/' + (5).toString(16).padStart(14, '0');
    const ev = decodeEvent((await db.get(key))!, 5);
    ev.timeUs = Number(ev.timeUs) + 1;
    await db.put(key, Buffer.from(encodeEvent(ev)));
    await db.close();
    const s = await withJournal(J, (j) => new LiveVerifier(j).update());
    assert.equal(s.error?.code, ErrorCodes.CORRUPT_EVENT);
    assert.equal(s.error?.seq, 5);
    assert.ok(s.verifiedSeq < 5, `verified up to ${s.verifiedSeq}`);
  });

  it('with a trusted key: the signatures cover every event of a signed journal', async () => {
    const J = tmp.path('s');
    const k = await generateKeyFiles(tmp.path('k.key'));
    await appendEpochs(J, 2, { signWith: await loadSigningKey(k.privateKey) });
    const s = await withJournal(J, async (j) => new LiveVerifier(j, { trust: await loadTrustedKey(k.publicKey) }).update());
    assert.equal(s.error, undefined, JSON.stringify(s.error));
    assert.equal(s.custody?.trusted, k.fingerprint);
    assert.equal(s.custody?.lastSignedSeq, s.verifiedSeq);
    assert.ok(s.custody!.signatures >= 2);
  });

  it('verifyPointDeep re-reads every blob a point needs; a flipped byte in a pack file fails it with CORRUPT_BLOB', async () => {
    const J = tmp.path('d');
    await appendEpochs(J, 2);
    const ok = await withJournal(J, (j) => verifyPointDeep(j, 'frame:1', { onProgress: () => undefined }));
    assert.equal(ok.ok, true, JSON.stringify(ok.error));
    assert.equal(ok.frame, 1);
    assert.ok(ok.blobs > 10, `${ok.blobs} blobs`);
    assert.equal(ok.blobsChecked, ok.blobs);
    const packs = readdirSync(join(J, 'packs')).sort();
    const p = join(J, 'packs', packs[0]!);
    const b = readFileSync(p);
    b[Math.floor(b.length / 2)] ^= 0x01;
    writeFileSync(p, b);
    const bad = await withJournal(J, (j) => verifyPointDeep(j, 'frame:1'));
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.code, ErrorCodes.CORRUPT_BLOB);
    await assert.rejects(
      withJournal(J, (j) => verifyPointDeep(j, 'frame:99')),
      (e: { code?: string }) => e.code === ErrorCodes.POINT_NOT_FOUND,
    );
  });
});
