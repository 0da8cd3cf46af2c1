import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { ErrorCodes, isTtjError, type ErrorCode } from '../../src/errors.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { appendImages } from '../../src/journal/append-images.js';
import type { IEvent } from '../../src/journal/codec.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { repairJournal } from '../../src/journal/repair.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter, MAX_TIME_AHEAD_US } from '../../src/journal/writer.js';
import { LocalStore } from '../../src/store/local-store.js';
import { sha256 } from '../../src/util/hash.js';
import { dirty, memoryImage, png, sha } from '../helpers/images.js';
import { rawAppend } from '../helpers/raw-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

const PS = 4096;
const code = (c: ErrorCode) => (e: unknown) => isTtjError(e, c);
const ttj = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');

/** Everything a journal holds, as LevelDB and the pack files have it (LevelDB's own files may change on open). */
async function logical(dir: string): Promise<string> {
  const db = new Level<string, Buffer>(join(dir, 'index'), { valueEncoding: 'buffer' });
  const h: string[] = [];
  for await (const [k, v] of db.iterator()) h.push(`${k}=${v.toString('hex')}`);
  await db.close();
  return sha(Buffer.from(h.join('\n')));
}

async function withIndex(dir: string, f: (db: Level<string, Buffer>) => Promise<void>): Promise<void> {
  const db = new Level<string, Buffer>(join(dir, 'index'), { valueEncoding: 'buffer' });
  try {
    await f(db);
  } finally {
    await db.close();
  }
}

describe('trust: what verify accepts folds, and nothing overwrites history', function () {
  const tmp = useTmp();
  let J: string;
  let mem: Buffer;

  /** Five epochs of 32 pages and a 64 KiB disk, two frames, a keyframe at epoch 0 (and wherever the policy puts them). */
  beforeEach(async () => {
    J = tmp.path('j');
    mem = memoryImage(32, PS, 1);
    const w = await JournalWriter.openWriter(J);
    for (let e = 0; e < 5; e++) {
      dirty(mem, PS, 3, e + 10);
      writeFileSync(tmp.path('m.raw'), mem);
      writeFileSync(tmp.path('d.img'), Buffer.alloc(64 * 1024, e));
      writeFileSync(tmp.path('f.png'), png(4, 4, e));
      await appendImages(w, { memory: tmp.path('m.raw'), disks: [{ name: 'd', path: tmp.path('d.img') }], diskBlockSize: PS, frames: [tmp.path('f.png')], label: `e${e}` });
    }
    await w.close();
  });

  /** An epoch stream whose one page (pfn 0) is `page`, given as a blob event. */
  const pageEpoch = (epoch: number, page: Buffer, extra: IEvent[] = []): IEvent[] => [{ epochBegin: { epoch } }, { pages: { pfns: [0], addrs: sha256(page), zeroPfns: [] } }, ...extra, { epochCommit: { epoch } }];
  const blob = (data: Buffer): IEvent => ({ blob: { data } });

  async function refusedStream(events: IEvent[], c: ErrorCode): Promise<void> {
    const before = await logical(J);
    const w = await JournalWriter.openWriter(J);
    try {
      await assert.rejects(appendEventStream(w, encodeEventStream(events)), code(c));
    } finally {
      await w.close();
    }
    assert.equal(await logical(J), before, 'the journal is unchanged');
  }

  describe('1. blobs of the wrong size for their role', () => {
    for (const size of [100, 8192]) {
      it(`append refuses a ${size}-byte blob named as a page, and one named as a disk block`, async () => {
        const page = Buffer.alloc(size, 7);
        await refusedStream([blob(page), ...pageEpoch(5, page)], ErrorCodes.BAD_EVENT_STREAM);
        const block = Buffer.alloc(size, 8);
        await refusedStream(
          [blob(block), { epochBegin: { epoch: 5 } }, { diskWrite: { disk: 'd', offset: 0, length: PS, blocks: [0], addrs: sha256(block), zeroBlocks: [] } }, { epochCommit: { epoch: 5 } }],
          ErrorCodes.BAD_EVENT_STREAM,
        );
      });
    }

    it('append refuses a stored blob of another size named as a page (a frame chunk)', async () => {
      const frameBytes = await withJournal(J, async (j) => (await j.blobs([Buffer.from((await j.event((await j.frame(0))!.seq)).frame!.chunkAddrs!).subarray(0, 32)]))[0]!);
      assert.notEqual(frameBytes.length, PS);
      await refusedStream(pageEpoch(5, frameBytes), ErrorCodes.BAD_EVENT_STREAM);
    });

    it('append refuses device state or a frame whose chunks do not hash to its content hash', async () => {
      const a = Buffer.alloc(100, 1);
      const dev: IEvent = { device: { length: 100, chunkSize: 4096, chunkAddrs: sha256(a), contentHash: sha256(Buffer.alloc(100, 2)) } };
      await refusedStream([blob(a), { epochBegin: { epoch: 5 } }, dev, { epochCommit: { epoch: 5 } }], ErrorCodes.BAD_EVENT_STREAM);
      const p = png(2, 2, 9);
      const frame: IEvent = { frame: { format: 'png', length: p.length, chunkSize: 262144, chunkAddrs: sha256(p), contentHash: sha256(png(2, 2, 8)) } };
      await refusedStream([blob(p), frame], ErrorCodes.BAD_EVENT_STREAM);
    });

    it("the short last block of a disk must be zero past the disk's end: refused by append, caught by verify", async () => {
      const tail = Buffer.alloc(PS);
      tail.fill(3, 0, 512);
      const dirtyTail = Buffer.from(tail);
      dirtyTail[PS - 1] = 1;
      const stream = (b: Buffer): IEvent[] => [{ diskCreate: { name: 's', size: PS + 512, blockSize: PS } }, { diskWrite: { disk: 's', offset: PS, length: 512, blocks: [0], addrs: sha256(b), zeroBlocks: [] } }];
      await refusedStream([blob(dirtyTail), ...stream(dirtyTail)], ErrorCodes.BAD_EVENT_STREAM);
      await rawAppend(J, stream(dirtyTail), [{ addr: sha256(dirtyTail), data: dirtyTail }]);
      await withJournal(J, async (j) => assert.equal((await verify(j)).error?.code, ErrorCodes.CORRUPT_BLOB));
      const w = await JournalWriter.openWriter(tmp.path('k'));
      await appendEventStream(w, encodeEventStream([blob(tail), ...stream(tail)]));
      await w.close();
      await withJournal(tmp.path('k'), async (j) => assert.equal((await verify(j, { deep: true })).ok, true));
    });

    it('verify --deep fails where fold fails: a journal written past the checks with a 100-byte page', async () => {
      const page = Buffer.alloc(100, 7);
      await rawAppend(J, pageEpoch(5, page), [{ addr: sha256(page), data: page }]);
      await withJournal(J, async (j) => {
        await assert.rejects(fold(j, { at: 'epoch:5', out: tmp.path('o') }), code(ErrorCodes.CORRUPT_BLOB));
        for (const deep of [false, true]) {
          const r = await verify(j, { deep });
          assert.equal(r.ok, false, `deep ${deep}`);
          assert.equal(r.error!.code, ErrorCodes.CORRUPT_BLOB);
          assert.equal(r.error!.seq, 33, 'the pages event');
        }
      });
    });

    it('verify --deep fails where fold fails: device state whose chunks do not hash to its content hash', async () => {
      const a = Buffer.alloc(100, 1);
      const dev: IEvent = { device: { length: 100, chunkSize: 4096, chunkAddrs: sha256(a), contentHash: sha256(Buffer.alloc(100, 2)) } };
      await rawAppend(J, [{ epochBegin: { epoch: 5 } }, dev, { epochCommit: { epoch: 5 } }], [{ addr: sha256(a), data: a }]);
      await withJournal(J, async (j) => {
        await assert.rejects(fold(j, { at: 'epoch:5', out: tmp.path('o') }), code(ErrorCodes.CORRUPT_BLOB));
        const r = await verify(j, { deep: true });
        assert.equal(r.error?.code, ErrorCodes.CORRUPT_BLOB);
      });
    });
  });

  describe('2. a fold never trusts the index over the events', () => {
    it('a replaced epoch entry: fold --at epoch:4 fails with CORRUPT_STORE instead of writing epoch 3, and verify fails', async () => {
      await withIndex(J, async (db) => db.put('i/ep/000000000004', (await db.get('i/ep/000000000003'))!));
      await withJournal(J, async (j) => {
        await assert.rejects(fold(j, { at: 'epoch:4', out: tmp.path('o') }), code(ErrorCodes.CORRUPT_STORE));
        assert.equal((await verify(j)).error?.code, ErrorCodes.CORRUPT_STORE);
      });
    });

    it('an epoch entry pointing at another epoch with its own number: fold fails for epoch, seq, time and label points', async () => {
      await withIndex(J, async (db) => {
        const e3 = JSON.parse((await db.get('i/ep/000000000003'))!.toString());
        await db.put('i/ep/000000000004', Buffer.from(JSON.stringify({ ...e3, epoch: 4 })));
      });
      await withJournal(J, async (j) => {
        for (const at of ['epoch:4', 'label:e4', 'head', `time:${new Date().toISOString()}`]) {
          await assert.rejects(fold(j, { at, out: tmp.path('o') }), code(ErrorCodes.CORRUPT_STORE), at);
        }
      });
    });

    it('a replaced frame entry: fold --at frame:4 fails', async () => {
      await withIndex(J, async (db) => db.put('i/fr/000000000004', (await db.get('i/fr/000000000003'))!));
      await withJournal(J, async (j) => {
        await assert.rejects(fold(j, { at: 'frame:4', out: tmp.path('o') }), code(ErrorCodes.CORRUPT_STORE));
        assert.equal((await verify(j)).error?.code, ErrorCodes.CORRUPT_STORE);
      });
    });

    it('verify notices a deleted keyframe entry, a deleted label entry and an extra entry', async () => {
      for (const damage of [
        async (db: Level<string, Buffer>) => {
          for await (const k of db.keys({ gte: 'i/kf/', lt: 'i/kf0', limit: 1 })) await db.del(k);
        },
        async (db: Level<string, Buffer>) => {
          for await (const k of db.keys({ gte: 'i/lb/', lt: 'i/lb0', limit: 1 })) await db.del(k);
        },
        async (db: Level<string, Buffer>) => db.put('i/ep/000000000009', (await db.get('i/ep/000000000004'))!),
      ]) {
        const copy = tmp.path(`c${Math.random()}`);
        await import('node:fs/promises').then((fs) => fs.cp(J, copy, { recursive: true }));
        await withIndex(copy, damage);
        await withJournal(copy, async (j) => assert.equal((await verify(j)).error?.code, ErrorCodes.CORRUPT_STORE));
        // repair puts it right
        const r = await repairJournal(copy);
        assert.ok(r.changed > 0);
        await withJournal(copy, async (j) => assert.equal((await verify(j, { deep: true })).ok, true));
      }
    });
  });

  describe('3. an append never writes over an existing event', () => {
    it('a lost head entry is CORRUPT_STORE for readers and writers, the events stay; repair rebuilds it, and appends go on', async () => {
      await withIndex(J, (db) => db.del('h'));
      const before = await logical(J);
      await assert.rejects(Journal.open(J), code(ErrorCodes.CORRUPT_STORE));
      await assert.rejects(JournalWriter.openWriter(J), code(ErrorCodes.CORRUPT_STORE));
      writeFileSync(tmp.path('m.raw'), mem);
      const cli = spawnSync(process.execPath, [ttj, 'append', J, '--memory', tmp.path('m.raw'), '--json'], { encoding: 'utf8' });
      assert.equal(cli.status, 3, cli.stdout + cli.stderr);
      assert.equal(JSON.parse(cli.stdout).error.code, ErrorCodes.CORRUPT_STORE);
      assert.equal(await logical(J), before, 'nothing was written');

      const dry = spawnSync(process.execPath, [ttj, 'repair', J, '--dry-run', '--json'], { encoding: 'utf8' });
      assert.equal(dry.status, 0, dry.stderr);
      assert.equal(JSON.parse(dry.stdout).headBefore, -1);
      assert.equal(await logical(J), before, 'a dry run writes nothing');
      const rep = spawnSync(process.execPath, [ttj, 'repair', J, '--json'], { encoding: 'utf8' });
      assert.equal(rep.status, 0, rep.stderr);
      const report = JSON.parse(rep.stdout);
      assert.equal(report.head.seq, 31);
      assert.equal(report.epochs, 5);
      await withJournal(J, async (j) => {
        assert.equal((await verify(j, { deep: true })).ok, true);
        assert.equal((await j.head()).epoch, 4);
        // costs recorded by the writer are kept
        assert.ok((await j.epoch(0))!.storedBytes > 0);
      });
      const w = await JournalWriter.openWriter(J);
      dirty(mem, PS, 2, 99);
      writeFileSync(tmp.path('m.raw'), mem);
      const r = await appendImages(w, { memory: tmp.path('m.raw') });
      await w.close();
      assert.equal(r.firstSeq, 32);
      await withJournal(J, async (j) => assert.equal((await verify(j)).ok, true));
    });

    it('a lost last epoch or frame entry never makes the writer number an epoch or frame twice', async () => {
      await withIndex(J, (db) => db.del('i/fr/000000000004'));
      const before = await logical(J);
      const w = await JournalWriter.openWriter(J);
      try {
        writeFileSync(tmp.path('f.png'), png(4, 4, 77));
        await assert.rejects(appendImages(w, { frames: [tmp.path('f.png')] }), code(ErrorCodes.CORRUPT_STORE));
      } finally {
        await w.close();
      }
      assert.equal(await logical(J), before);
      await withIndex(J, (db) => db.del('i/ep/000000000004'));
      await assert.rejects(JournalWriter.openWriter(J), code(ErrorCodes.CORRUPT_STORE));
      await repairJournal(J);
      const w2 = await JournalWriter.openWriter(J);
      const r = await appendImages(w2, { frames: [tmp.path('f.png')] });
      await w2.close();
      assert.equal(r.frames[0]!.frame, 5);
      await withJournal(J, async (j) => assert.equal((await verify(j)).ok, true));
    });

    it('ttj repair refuses what it cannot repair with a stable code and changes nothing: no journal, damaged events, another writer', async () => {
      const none = spawnSync(process.execPath, [ttj, 'repair', tmp.path('nope'), '--json'], { encoding: 'utf8' });
      assert.equal(none.status, 1, none.stderr);
      assert.equal(JSON.parse(none.stdout).error.code, ErrorCodes.NOT_A_JOURNAL);

      await withIndex(J, async (db) => {
        const e = (await db.get('e/00000000000005'))!;
        e[e.length - 1] ^= 0x01; // an event whose successor's prev_hash no longer matches
        await db.put('e/00000000000005', e);
        await db.del('h');
      });
      const before = await logical(J);
      const damaged = spawnSync(process.execPath, [ttj, 'repair', J, '--json'], { encoding: 'utf8' });
      assert.equal(damaged.status, 3, damaged.stderr);
      assert.ok([ErrorCodes.CORRUPT_EVENT, ErrorCodes.STATE_ROOT_MISMATCH].includes(JSON.parse(damaged.stdout).error.code), damaged.stdout);
      assert.equal(await logical(J), before, 'damaged events are reported, not repaired');

      const K = tmp.path('k');
      const w = await JournalWriter.openWriter(K);
      try {
        const held = spawnSync(process.execPath, [ttj, 'repair', K, '--json'], { encoding: 'utf8', env: { ...process.env } });
        assert.equal(held.status, 4, held.stderr);
        assert.equal(JSON.parse(held.stdout).error.code, ErrorCodes.LOCKED);
      } finally {
        await w.close();
      }
    });

    it('a head entry behind the events is CORRUPT_STORE, not an append over them', async () => {
      const events: string[] = [];
      await withIndex(J, async (db) => {
        const h = (await db.get('h'))!;
        h.writeUIntLE(20, 0, 6);
        await db.put('h', h);
        for await (const k of db.keys({ gte: 'e/', lt: 'e0' })) events.push(k);
      });
      await assert.rejects(JournalWriter.openWriter(J), code(ErrorCodes.CORRUPT_STORE));
      assert.equal(events.length, 32);
    });
  });

  describe('4. times', () => {
    it('refuses a time far ahead of the clock or going backwards; later appends are stamped now', async () => {
      const page = Buffer.alloc(PS, 5);
      const year3000 = Date.UTC(3000, 0, 1) * 1000;
      await refusedStream([blob(page), ...pageEpoch(5, page).map((e) => ({ ...e, timeUs: year3000 }))], ErrorCodes.BAD_EVENT_STREAM);
      const soon = (Date.now() + 1000) * 1000 + MAX_TIME_AHEAD_US * 2;
      await refusedStream([blob(page), ...pageEpoch(5, page).map((e) => ({ ...e, timeUs: soon }))], ErrorCodes.BAD_EVENT_STREAM);
      await refusedStream([blob(page), ...pageEpoch(5, page).map((e) => ({ ...e, timeUs: Date.UTC(2001, 0, 1) * 1000 }))], ErrorCodes.BAD_EVENT_STREAM);
      const w = await JournalWriter.openWriter(J);
      const r = await appendEventStream(w, encodeEventStream([blob(page), ...pageEpoch(5, page)]));
      await w.close();
      assert.ok(Math.abs(r.epochs[0]!.timeUs / 1000 - Date.now()) < 60_000);
    });
  });

  describe('5. format versions', () => {
    it('a journal marker of version 99 is refused with UNSUPPORTED_VERSION (reader, writer, CLI)', async () => {
      const marker = join(J, 'ttj-journal.json');
      writeFileSync(marker, JSON.stringify({ ...JSON.parse(readFileSync(marker, 'utf8')), version: 99 }));
      await assert.rejects(Journal.open(J), code(ErrorCodes.UNSUPPORTED_VERSION));
      await assert.rejects(JournalWriter.openWriter(J), code(ErrorCodes.UNSUPPORTED_VERSION));
      const cli = spawnSync(process.execPath, [ttj, 'log', J, '--json'], { encoding: 'utf8' });
      assert.equal(cli.status, 7);
      assert.equal(JSON.parse(cli.stdout).error.code, ErrorCodes.UNSUPPORTED_VERSION);
    });

    it('a journal header of format version 99 is refused with UNSUPPORTED_VERSION', async () => {
      const D = tmp.path('v99');
      const store = await LocalStore.open(D, { create: true });
      const { encodeEvent } = await import('../../src/journal/codec.js');
      await store.append({
        expectedHead: -1,
        events: [encodeEvent({ seq: 0, timeUs: Date.now() * 1000, prevHash: Buffer.alloc(32), header: { formatVersion: 99, pageSize: PS, createdBy: 'ttj/9', journalId: Buffer.alloc(16) } })],
      });
      await store.close();
      await assert.rejects(Journal.open(D), code(ErrorCodes.UNSUPPORTED_VERSION));
      await assert.rejects(JournalWriter.openWriter(D), code(ErrorCodes.UNSUPPORTED_VERSION));
    });
  });
});
