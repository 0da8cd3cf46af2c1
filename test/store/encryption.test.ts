import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { push } from '../../src/journal/push.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { changePassword } from '../../src/store/journal-key.js';
import { storeComplianceSuite } from '../../src/store/compliance-suite.js';
import { openStore } from '../../src/store/open-store.js';
import { fileHashes } from '../helpers/file-hashes.js';
import { filesContaining } from '../helpers/files-containing.js';
import { LABEL, LABEL_FORMS, MARKER, PW, recordSecrets, secretImages } from '../helpers/secret-journal.js';
import { resolvePoint } from '../../src/journal/point.js';
import { ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { startUiServer } from '../../src/ui/server.js';
import { quietConsole } from '../helpers/quiet-console.js';
import Init from '../../src/commands/init.js';
import Log from '../../src/commands/log.js';
import KeyPasswd from '../../src/commands/key/passwd.js';

// The embedded store's contract holds through the cipher too.
storeComplianceSuite('LevelDB index + pack files, encrypted', {
  open: (dir) => openStore(dir, { create: true, encrypt: true, password: PW }),
  reader: (dir) => openStore(dir, { password: PW }),
});

async function headHash(j: string, password: string): Promise<string> {
  const journal = await Journal.open(j, { password });
  try {
    return (await journal.head()).hash;
  } finally {
    await journal.close();
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isTtjError(e) && e.code === code);
}

describe('encryption at rest', function () {
  this.timeout(120000);
  const tmp = useTmp();
  quietConsole();

  it('no file of an encrypted journal holds what the guest wrote, the SHA-256 of a page, nor a label text; the plain journal holds all three (the scan can fail)', async () => {
    const plain = await recordSecrets(tmp.path('plain'), tmp.dir, { encrypt: false });
    assert.ok(filesContaining(tmp.path('plain'), [MARKER]).length > 0);
    assert.ok(filesContaining(tmp.path('plain'), [plain.randomPageHash]).length > 0);
    assert.ok(filesContaining(tmp.path('plain'), [LABEL_FORMS[1]!]).length > 0);
    const s = await recordSecrets(tmp.path('enc'), tmp.dir, { encrypt: true });
    assert.deepEqual(filesContaining(tmp.path('enc'), [MARKER, s.randomPageHash, ...LABEL_FORMS]), []);
    // With the password, everything is there.
    const j = await Journal.open(tmp.path('enc'), { password: PW });
    try {
      assert.equal(j.encrypted, true);
      assert.equal((await resolvePoint(j, `label:${LABEL}`)).epoch, 0);
      const labels = [];
      for await (const l of j.labels()) labels.push(l);
      assert.deepEqual(
        labels.map((l) => [l.text, l.epoch]),
        [[LABEL, 0]],
      );
      await assert.rejects(resolvePoint(j, 'label:no-such-label'), (e: unknown) => isTtjError(e) && e.code === ErrorCodes.POINT_NOT_FOUND);
      const m = await fold(j, { at: 'head', out: tmp.path('out') });
      assert.ok(readFileSync(tmp.path('out', m.memory!.file)).equals(readFileSync(s.memory)));
      const r = await verify(j, { deep: true });
      assert.equal(r.ok, true, JSON.stringify(r.error));
      assert.equal(r.epochs, 2);
    } finally {
      await j.close();
    }
  });

  it('blobs are deduplicated inside an encrypted journal', async () => {
    const J = tmp.path('j');
    const img = secretImages(tmp.dir, 3);
    const w = await JournalWriter.openWriter(J, { encrypt: true, password: PW });
    try {
      const first = await appendImages(w, { memory: img.memory });
      const again = await appendImages(w, { memory: img.memory, label: 'same' });
      assert.ok(first.newBlobs > 0);
      assert.equal(again.newBlobs, 0);
    } finally {
      await w.close();
    }
  });

  it('ttj ui serves an encrypted journal with its password, and refuses to start without it', async () => {
    const J = tmp.path('j');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    await expectCode(startUiServer(J), ErrorCodes.PASSWORD_REQUIRED);
    const server = await startUiServer(J, { password: PW });
    try {
      const res = await fetch(server.url.replace('/?', '/api/timeline?'));
      assert.equal(res.status, 200);
      const t = (await res.json()) as { epochs: unknown[] };
      assert.equal(t.epochs.length, 2);
    } finally {
      await server.close();
    }
  });

  it('without the password, or with a wrong one, a clear code and nothing changed', async () => {
    const J = tmp.path('j');
    const s = await recordSecrets(J, tmp.dir, { encrypt: true });
    const before = fileHashes(J);
    await expectCode(Journal.open(J), ErrorCodes.PASSWORD_REQUIRED);
    await expectCode(Journal.open(J, { password: 'wrong' }), ErrorCodes.BAD_PASSWORD);
    await expectCode(JournalWriter.openWriter(J, { password: 'wrong' }), ErrorCodes.BAD_PASSWORD);
    const cli = ttj(['append', J, '--memory', s.memory, '--json'], { env: { ...process.env, TTJ_PASSWORD: 'wrong' } });
    assert.equal(cli.status, 10);
    assert.equal(cli.json.error.code, ErrorCodes.BAD_PASSWORD);
    const none = ttj(['log', J, '--json'], { env: { ...process.env, TTJ_PASSWORD: '' } });
    assert.notEqual(none.status, 0);
    assert.deepEqual(fileHashes(J), before);
  });

  it('a flipped ciphertext byte in a pack is caught by fold and verify --deep', async () => {
    const J = tmp.path('j');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    const packs = readdirSync(join(J, 'packs'));
    const p = join(J, 'packs', packs[packs.length - 1]!);
    const b = readFileSync(p);
    b[Math.floor(b.length / 3)]! ^= 0x10;
    writeFileSync(p, b);
    const j = await Journal.open(J, { password: PW });
    try {
      const r = await verify(j, { deep: true });
      assert.equal(r.ok, false);
      assert.equal(r.error!.code, ErrorCodes.CORRUPT_BLOB);
      await expectCode(fold(j, { at: 'head', out: tmp.path('out') }), ErrorCodes.CORRUPT_BLOB);
    } finally {
      await j.close();
    }
    const cli = ttj(['verify', J, '--deep', '--json'], { env: { ...process.env, TTJ_PASSWORD: PW } });
    assert.equal(cli.status, 3);
    assert.equal(cli.json.error.code, ErrorCodes.CORRUPT_BLOB);
  });

  it('a flipped byte in a sealed event, and two sealed events swapped, are caught by verify (the events are bound to their seq)', async () => {
    const J = tmp.path('j');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    const key = (seq: number) => 'e/' + seq.toString(16).padStart(14, '0');
    const db = new Level<string, Buffer>(join(J, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const [e2, e3] = [(await db.get(key(2)))!, (await db.get(key(3)))!];
    const flipped = Buffer.from(e2);
    flipped[flipped.length >> 1]! ^= 0x01;
    await db.put(key(2), flipped);
    await db.close();
    const check = async () => {
      const j = await Journal.open(J, { password: PW });
      try {
        return await verify(j);
      } finally {
        await j.close();
      }
    };
    let r = await check();
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, ErrorCodes.CORRUPT_EVENT);
    assert.equal(r.error!.seq, 2);
    const db2 = new Level<string, Buffer>(join(J, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db2.open();
    await db2.put(key(2), e3);
    await db2.put(key(3), e2);
    await db2.close();
    r = await check();
    assert.equal(r.ok, false);
    assert.equal(r.error!.code, ErrorCodes.CORRUPT_EVENT);
  });

  it('a sealed block copied to the place of another (it is bound to its place) does not open', async () => {
    const J = tmp.path('j');
    const w = await JournalWriter.openWriter(J, { encrypt: true, password: PW });
    try {
      for (const seed of [4, 5]) await appendImages(w, { memory: secretImages(tmp.dir, seed).memory });
    } finally {
      await w.close();
    }
    const p = join(J, 'packs', readdirSync(join(J, 'packs'))[0]!);
    const b = readFileSync(p);
    const len = 16 + b.readUInt32LE(8);
    assert.equal(b.readUInt32LE(0), 0x454a5454);
    assert.equal(b.readUInt32LE(len), 0x454a5454);
    // The second block is overwritten with the first (whole and valid, at another place).
    const second = len + 16 + b.readUInt32LE(len + 8);
    const moved = Buffer.concat([b.subarray(0, len), b.subarray(0, len), b.subarray(Math.min(b.length, len + len))]);
    assert.ok(second <= b.length);
    writeFileSync(p, moved);
    const j = await Journal.open(J, { password: PW });
    try {
      const r = await verify(j, { deep: true });
      assert.equal(r.ok, false);
      assert.equal(r.error!.code, ErrorCodes.CORRUPT_BLOB);
    } finally {
      await j.close();
    }
  });

  it('in-process: init --encrypt, log and key passwd take the password from TTJ_PASSWORD and TTJ_NEW_PASSWORD', async () => {
    const J = tmp.path('j');
    const env = { ...process.env };
    try {
      process.env.TTJ_PASSWORD = PW;
      assert.equal((await Init.run([J, '--encrypt', '--json'])).encrypted, true);
      assert.equal((await Log.run([J, '--json'])).head.seq, 0);
      process.env.TTJ_NEW_PASSWORD = 'next';
      await KeyPasswd.run([J, '--json']);
      await expectCode(Log.run([J, '--json']), ErrorCodes.BAD_PASSWORD);
      process.env.TTJ_PASSWORD = 'next';
      assert.equal((await Log.run([J, '--json'])).head.seq, 0);
    } finally {
      process.env = env;
    }
  });

  it('ttj key passwd: the old password fails after, the new one works, the data is untouched', async () => {
    const J = tmp.path('j');
    const pwFile = tmp.path('old.txt');
    const newFile = tmp.path('new.txt');
    writeFileSync(pwFile, `${PW}\n`);
    writeFileSync(newFile, 'a new password\n');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    // The data: the packs, and the events (by the head hash); LevelDB rewrites its own files on any open.
    const packs = fileHashes(join(J, 'packs'));
    const head = await headHash(J, PW);
    const bad = ttj(['key', 'passwd', J, '--password-file', newFile, '--new-password-file', pwFile, '--json']);
    assert.equal(bad.json.error.code, ErrorCodes.BAD_PASSWORD);
    const r = ttj(['key', 'passwd', J, '--password-file', pwFile, '--new-password-file', newFile, '--json']);
    assert.equal(r.status, 0, r.stderr);
    await expectCode(Journal.open(J, { password: PW }), ErrorCodes.BAD_PASSWORD);
    const j = await Journal.open(J, { password: 'a new password' });
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
    } finally {
      await j.close();
    }
    assert.deepEqual(fileHashes(join(J, 'packs')), packs);
    assert.equal(await headHash(J, 'a new password'), head);
    await changePassword(J, 'a new password', PW);
    await (await Journal.open(J, { password: PW })).close();
  });

  it('ttj init --encrypt needs a password, and creates nothing without one', () => {
    const J = tmp.path('j');
    const r = ttj(['init', J, '--encrypt', '--json'], { env: { ...process.env, TTJ_PASSWORD: undefined } });
    assert.equal(r.status, 10);
    assert.equal(r.json.error.code, ErrorCodes.PASSWORD_REQUIRED);
    assert.deepEqual(readdirSync(tmp.dir), []);
    const ok = ttj(['init', J, '--encrypt', '--json'], { env: { ...process.env, TTJ_PASSWORD: PW } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.json.encrypted, true);
    const log = ttj(['log', J, '--json'], { env: { ...process.env, TTJ_PASSWORD: undefined } });
    assert.equal(log.status, 10);
    assert.equal(log.json.error.code, ErrorCodes.PASSWORD_REQUIRED);
  });

  it('push moves ciphertext only: the new destination has the same key, none of its files hold the marker nor the label text, and the label is found', async () => {
    const J = tmp.path('j');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    const src = await Journal.open(J, { password: PW });
    try {
      const r = await push(src, tmp.path('copy'));
      assert.equal(r.created, true);
    } finally {
      await src.close();
    }
    assert.deepEqual(filesContaining(tmp.path('copy'), [MARKER, ...LABEL_FORMS]), []);
    assert.ok(readFileSync(tmp.path('copy', 'ttj-key.json')).equals(readFileSync(join(J, 'ttj-key.json'))));
    const copy = await Journal.open(tmp.path('copy'), { password: PW });
    try {
      assert.equal((await verify(copy, { deep: true })).ok, true);
      assert.equal((await resolvePoint(copy, `label:${LABEL}`)).epoch, 0);
      assert.equal((await copy.head()).hash, await headHash(J, PW));
    } finally {
      await copy.close();
    }
  });

  it('push refuses a destination that is plain or of another key, and a plain source into an encrypted one (TTJ_KEY_MISMATCH, nothing written)', async () => {
    const J = tmp.path('j');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    await recordSecrets(tmp.path('plain'), tmp.dir, { encrypt: false });
    await (await JournalWriter.openWriter(tmp.path('other'), { encrypt: true, password: PW })).close();
    const plainBefore = fileHashes(tmp.path('plain'));
    const src = await Journal.open(J, { password: PW });
    try {
      await expectCode(push(src, tmp.path('plain')), ErrorCodes.KEY_MISMATCH);
      await expectCode(push(src, tmp.path('other')), ErrorCodes.KEY_MISMATCH);
    } finally {
      await src.close();
    }
    assert.deepEqual(fileHashes(tmp.path('plain')), plainBefore);
    const cli = ttj(['push', tmp.path('plain'), J, '--json']);
    assert.equal(cli.status, 9);
    assert.equal(cli.json.error.code, ErrorCodes.KEY_MISMATCH);
  });
});
