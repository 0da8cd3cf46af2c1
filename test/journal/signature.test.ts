import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { appendImages } from '../../src/journal/append-images.js';
import { decodeEvent, type Event } from '../../src/journal/codec.js';
import type { Journal } from '../../src/journal/journal.js';
import { log } from '../../src/journal/log.js';
import { push } from '../../src/journal/push.js';
import { generateKeyFiles, loadSigningKey, loadTrustedKey, type SigningKey, type TrustedKey } from '../../src/journal/signing-key.js';
import { verify, type VerifyOptions } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { serveDisk } from '../../src/replay/serve-disk.js';
import type { StoredEvent } from '../../src/store/store.js';
import { dirty, memoryImage } from '../helpers/images.js';
import { rewriteHistory } from '../helpers/raw-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const PS = 4096;
const execFileP = promisify(execFile);
/** test/fixtures is not compiled: reach it from dist/test/journal. */
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'journal-0.1.0', 'journal');

describe('signed journals (chain of custody)', function () {
  const tmp = useTmp();
  let J: string;
  let key: SigningKey;
  let trusted: TrustedKey;
  let mem: Buffer;

  /** Appends `n` epochs (one batch each) with `signWith`. */
  async function epochs(n: number, signWith?: SigningKey, seed = 0): Promise<void> {
    const w = await JournalWriter.openWriter(J, { signWith });
    try {
      for (let e = 0; e < n; e++) {
        dirty(mem, PS, 10, seed + e);
        writeFileSync(tmp.path('m.raw'), mem);
        await appendImages(w, { memory: tmp.path('m.raw') });
      }
    } finally {
      await w.close();
    }
  }

  const check = (opts: VerifyOptions, dir = J) => withJournal(dir, (j) => verify(j, opts));
  /** The stored events of `j` from `from` (to `to`), as stored. */
  async function stored(j: Journal, from = 0, to?: number): Promise<StoredEvent[]> {
    const all: StoredEvent[] = [];
    for await (const b of j.storedEvents(from, to)) all.push(...b);
    return all;
  }
  const events = async (j: Journal): Promise<Event[]> => (await stored(j)).map((e) => decodeEvent(e.bytes, e.seq));
  const headHash = (dir = J) => withJournal(dir, async (j) => (await j.head()).hash);

  beforeEach(async () => {
    J = tmp.path('j');
    mem = memoryImage(128, PS, 3);
    const k = await generateKeyFiles(tmp.path('k'));
    key = await loadSigningKey(k.privateKey);
    trusted = await loadTrustedKey(k.publicKey);
    assert.equal(k.fingerprint, key.fingerprint.toString('hex'));
    assert.equal(k.fingerprint, trusted.fingerprint.toString('hex'));
  });

  it('key generation writes the private key 0600, never over a file, and both files read back', async () => {
    assert.equal(statSync(tmp.path('k')).mode & 0o777, 0o600);
    await assert.rejects(generateKeyFiles(tmp.path('k')), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(loadTrustedKey(tmp.path('nothing')), (e) => isTtjError(e, ErrorCodes.FILE_NOT_FOUND));
    writeFileSync(tmp.path('junk'), 'not a key');
    await assert.rejects(loadSigningKey(tmp.path('junk')), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    // A public key is not a signing key.
    await assert.rejects(loadSigningKey(tmp.path('k.pub')), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });

  it('signs the header and the last event of every batch; verify --trust accepts it and log names the signer per epoch', async () => {
    await epochs(3, key);
    const evs = await withJournal(J, events);
    const signed = evs.flatMap((e, seq) => (e.signature.length ? [seq] : []));
    const commits = evs.flatMap((e, seq) => (e.body === 'epochCommit' ? [seq] : []));
    assert.deepEqual(signed, [0, ...commits]);
    for (const s of signed) assert.deepEqual(Buffer.from(evs[s]!.signer), key.fingerprint);
    const r = await check({ trust: trusted });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.deepEqual(r.custody, { signatures: 4, trusted: key.fingerprint.toString('hex') });
    const l = await withJournal(J, (j) => log(j));
    assert.deepEqual(
      l.epochs.map((e) => e.signer),
      [0, 1, 2].map(() => key.fingerprint.toString('hex')),
    );
  });

  it('a rewritten history with a whole new chain and true state roots passes plain verify, not verify --trust or --head', async () => {
    await epochs(3, key);
    const published = await headHash();
    const evs = await withJournal(J, events);
    const from = evs.findIndex((e) => e.body === 'epochBegin' && Number(e.epochBegin!.epoch) === 1);
    const pagesSeq = evs.findIndex((e, s) => s > from && e.body === 'pages');
    const commitSeq = evs.findIndex((e, s) => s > from && e.body === 'epochCommit');
    await rewriteHistory(J, from, (ev, seq) => {
      if (seq !== pagesSeq) return ev;
      const pfns = [...ev.pages!.pfns!];
      [pfns[0], pfns[1]] = [pfns[1]!, pfns[0]!]; // two pages swapped
      return { ...ev, pages: { ...ev.pages!, pfns } };
    });
    const plain = await check({ deep: true });
    assert.equal(plain.ok, true, JSON.stringify(plain.error));
    const r = await check({ trust: trusted });
    assert.equal(r.error?.code, ErrorCodes.BAD_SIGNATURE);
    assert.equal(r.error?.seq, commitSeq); // the signature that covers the rewritten event
    const h = await check({ head: published });
    assert.equal(h.error?.code, ErrorCodes.HEAD_NOT_FOUND);
    // The untouched prefix is still there: a head published before the rewrite is found.
    const prefix = await withJournal(J, (j) => stored(j, 0, from));
    const { sha256 } = await import('../../src/util/hash.js');
    const early = sha256(prefix[prefix.length - 1]!.bytes).toString('hex');
    const ok = await check({ head: early });
    assert.deepEqual(ok.custody?.extends, { seq: from - 1, hash: early });
  });

  it('rejects a journal signed with another key at its first signed event, and an unsigned journal at seq 0', async () => {
    const other = await generateKeyFiles(tmp.path('other'));
    await epochs(2, await loadSigningKey(other.privateKey));
    const r = await check({ trust: trusted });
    assert.equal(r.error?.code, ErrorCodes.BAD_SIGNATURE);
    assert.equal(r.error?.seq, 0);
    J = tmp.path('unsigned');
    await epochs(2);
    const u = await check({ trust: trusted });
    assert.equal(u.error?.code, ErrorCodes.BAD_SIGNATURE);
    assert.equal(u.error?.seq, 0);
    assert.equal((await check({})).ok, true);
  });

  it('names the first event after the last signature when later batches are unsigned; a later signed batch covers the chain before it', async () => {
    await epochs(2, key);
    const signedHead = await withJournal(J, async (j) => (await j.head()).seq);
    await epochs(1, undefined, 10);
    const r = await check({ trust: trusted });
    assert.equal(r.error?.code, ErrorCodes.BAD_SIGNATURE);
    assert.equal(r.error?.seq, signedHead + 1);
    await epochs(1, key, 20);
    assert.equal((await check({ trust: trusted })).ok, true);
  });

  it('push copies the signatures byte for byte; the replica verifies under --trust', async () => {
    await epochs(2, key);
    await withJournal(J, (j) => push(j, tmp.path('copy')));
    const r = await check({ trust: trusted, head: await headHash() }, tmp.path('copy'));
    assert.equal(r.ok, true, JSON.stringify(r.error));
  });

  it('the 0.1.0 journal still verifies and extends its own head; under --trust it is unsigned from seq 0', async () => {
    const old = tmp.path('old');
    cpSync(FIXTURE, old, { recursive: true });
    const head = await headHash(old);
    const r = await check({ head }, old);
    assert.equal(r.ok, true, JSON.stringify(r.error));
    const t = await check({ trust: trusted }, old);
    assert.equal(t.error?.code, ErrorCodes.BAD_SIGNATURE);
    assert.equal(t.error?.seq, 0);
  });

  it('ttj nbd --sign-with signs every group of writes it journals', async () => {
    writeFileSync(tmp.path('d0.img'), Buffer.alloc(1 << 20));
    const w = await JournalWriter.openWriter(J, { signWith: key });
    await appendImages(w, { disks: [{ name: 'd0', path: tmp.path('d0.img') }] });
    await w.close();
    const served = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('s.sock'), signWith: key });
    try {
      await execFileP('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 0 64k', '-c', 'flush', '-c', 'write -P 0xcd 128k 4k', served.url]);
    } finally {
      await served.close();
    }
    const evs = await withJournal(J, events);
    const commit = evs.findIndex((e) => e.body === 'epochCommit');
    const after = evs.slice(commit + 1);
    assert.ok(after.filter((e) => e.body === 'diskWrite').length >= 2, 'the NBD writes, outside epochs');
    assert.ok(after.filter((e) => e.signature.length).length >= 1);
    const r = await check({ trust: trusted });
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.custody!.signatures, 2 + after.filter((e) => e.signature.length).length);
  });

  it('signatures given in an append --events stream are dropped; the writer signs', async () => {
    await epochs(1, key);
    const forged = { signature: Buffer.alloc(64, 1), signer: key.fingerprint };
    const stream = encodeEventStream([
      { label: { text: 'a' }, ...forged },
      { label: { text: 'b' }, ...forged },
    ]);
    for (const signWith of [undefined, key]) {
      const w = await JournalWriter.openWriter(J, { signWith });
      await appendEventStream(w, stream).finally(() => w.close());
      const last = (await withJournal(J, events)).slice(-2);
      assert.equal(last[0]!.signature.length, 0);
      assert.equal(last[1]!.signature.length, signWith ? 64 : 0);
    }
    assert.equal((await check({ trust: trusted })).ok, true);
  });

  it('--head must be a SHA-256 in hex', async () => {
    await epochs(1, key);
    const r = await check({ head: 'abc' });
    assert.equal(r.error?.code, ErrorCodes.BAD_ARGUMENT);
  });
});
