import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes, isTtjError, type TtjError } from '../../src/errors.js';
import { exitCodeFor } from '../../src/cli/base-command.js';
import { LocalStore } from '../../src/store/local-store.js';
import { appendImages } from '../../src/journal/append-images.js';
import { Journal } from '../../src/journal/journal.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';
import { sha } from '../helpers/images.js';
import { fillDisk, mountTmpfs, treeDigest } from '../helpers/mounts.js';
import { ttjBin, ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { tmpDir } from '../helpers/tmp.js';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;

/** A tmpfs of `bytes` of its own for each test, unmounted and removed afterwards. */
function useTmpfs(bytes: number): { readonly dir: string } {
  let dir = '';
  let umount: (() => void) | undefined;
  beforeEach(() => {
    dir = tmpDir('ttj-tmpfs-');
    umount = mountTmpfs(dir, bytes);
  });
  afterEach(() => {
    umount?.();
    umount = undefined;
    rmdirSync(dir);
  });
  return {
    get dir() {
      return dir;
    },
  };
}

/** The failure of an append that found no space (the code compared, so that a missing code cannot match). */
const noSpace = (e: unknown): e is TtjError<typeof ErrorCodes.NO_SPACE> => isTtjError(e, ErrorCodes.NO_SPACE);

/** Whole files of the pack directory (names, sizes, hashes). */
function packs(J: string): Record<string, string> {
  return treeDigest(join(J, 'packs'));
}

describe('a full disk @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();
  const fs = useTmpfs(12 * MiB);

  it('ttj append fails with TTJ_NO_SPACE (exit 5) leaving nothing behind; log, verify and fold work on the full disk; append works once there is space', () => {
    const J = join(fs.dir, 'j');
    const filler = join(fs.dir, 'filler');
    const m0 = randomBytes(MiB);
    writeFileSync(tmp.path('m0.raw'), m0);
    assert.equal(ttj(['append', J, '--memory', tmp.path('m0.raw'), '--json']).status, 0);
    const m1 = randomBytes(MiB); // incompressible: it needs a whole MiB of pack file
    writeFileSync(tmp.path('m1.raw'), m1);
    // Room for LevelDB to open, not for the new epoch's blobs.
    fillDisk(filler, 256 * 1024);
    const packsBefore = packs(J);
    const logBefore = ttj(['log', J, '--json']).json;
    const a = ttj(['append', J, '--memory', tmp.path('m1.raw'), '--json']);
    assert.equal(a.json?.error?.code, ErrorCodes.NO_SPACE, a.stdout + a.stderr);
    assert.equal(a.status, exitCodeFor(ErrorCodes.NO_SPACE));
    assert.deepEqual(packs(J), packsBefore, 'the pack files are as they were');
    assert.equal(existsSync(join(J, 'writer.lock')), false);

    // Reads on a disk with no byte free.
    fillDisk(filler);
    assert.deepEqual(ttj(['log', J, '--json']).json, logBefore);
    const v = ttj(['verify', J, '--deep', '--json']);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.equal(v.json.ok, true);
    const f = ttj(['fold', J, '--at', 'head', '--out', tmp.path('o0'), '--json']);
    assert.equal(f.status, 0, f.stdout + f.stderr);
    assert.equal(sha(readFileSync(tmp.path('o0', 'memory.raw'))), sha(m0));
    // Still no space: refused again, still nothing left behind.
    const again = ttj(['append', J, '--memory', tmp.path('m1.raw'), '--json']);
    assert.equal(again.json?.error?.code, ErrorCodes.NO_SPACE, again.stdout + again.stderr);
    assert.deepEqual(packs(J), packsBefore);

    rmSync(filler);
    const ok = ttj(['append', J, '--memory', tmp.path('m1.raw'), '--json']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.equal(ttj(['verify', J, '--deep', '--json']).json.ok, true);
    assert.equal(ttj(['fold', J, '--at', 'epoch:1', '--out', tmp.path('o1'), '--json']).status, 0);
    assert.equal(sha(readFileSync(tmp.path('o1', 'memory.raw'))), sha(m1));
    assert.equal(ttj(['log', J, '--json']).json.head.epoch, 1);
  });

  it('a new journal that cannot be made on a full disk is TTJ_NO_SPACE and leaves no half journal behind', () => {
    fillDisk(join(fs.dir, 'filler'));
    writeFileSync(tmp.path('m.raw'), randomBytes(64 * 1024));
    for (const args of [
      ['init', join(fs.dir, 'new')],
      ['append', join(fs.dir, 'new'), '--memory', tmp.path('m.raw')],
    ]) {
      const r = ttj([...args, '--json']);
      assert.equal(r.json?.error?.code, ErrorCodes.NO_SPACE, r.stdout + r.stderr);
      assert.deepEqual(readdirSync(fs.dir), ['filler']);
    }
  });

  it('at every amount of free space an append either commits or is TTJ_NO_SPACE, and the journal then verifies and takes the next append', async () => {
    const J = join(fs.dir, 'j');
    const filler = join(fs.dir, 'filler');
    const mem = (n: number) => {
      writeFileSync(tmp.path(`m${n}.raw`), randomBytes(256 * 1024));
      return tmp.path(`m${n}.raw`);
    };
    const w0 = await JournalWriter.openWriter(J);
    await appendImages(w0, { memory: mem(0) }).finally(() => w0.close());
    let epochs = 1;
    const outcomes = new Set<string>();
    // From no page free to enough for the epoch (64 pages of random bytes, and the index).
    for (let pages = 0; pages <= 96; pages += 4) {
      rmSync(filler, { force: true });
      fillDisk(filler, pages * 4096);
      try {
        const w = await JournalWriter.openWriter(J);
        await appendImages(w, { memory: mem(pages + 1) }).finally(() => w.close());
        epochs++;
        outcomes.add('committed');
      } catch (e) {
        assert.ok(noSpace(e), `${pages} pages free: ${String(e)}`);
        outcomes.add('no space');
      }
      rmSync(filler);
      const j = await Journal.open(J);
      try {
        assert.equal((await verify(j, { deep: true })).ok, true);
        assert.equal((await j.head()).epoch, epochs - 1, `${pages} pages free`);
      } finally {
        await j.close();
      }
    }
    assert.deepEqual([...outcomes].sort(), ['committed', 'no space']);
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { memory: mem(999) }).finally(() => w.close());
  });

  it('an index write that fails (LevelDB out of space) is TTJ_NO_SPACE, cuts the pack back, and later appends and reopens find exactly the committed batches', async () => {
    const J = join(fs.dir, 'j');
    const filler = join(fs.dir, 'filler');
    const events: Buffer[] = [];
    const w = await LocalStore.open(J, { create: true, cache: 'writeback' });
    const blob = (n: number) => {
      const data = randomBytes(n);
      return { addr: sha256(data), data };
    };
    let head = -1;
    const copies = readdirSync(tmpdir()).filter((n) => n.startsWith('ttj-index-'));
    try {
      const first = [Buffer.from('event 0'), Buffer.from('event 1')];
      head = (await w.append({ expectedHead: head, events: first, blobs: [blob(8192)] })).head.seq;
      events.push(...first);
      const packFile = join(J, 'packs', '00000001.pack');
      const packSize = statSync(packFile).size;
      // Room for a small blob in the pack file, not for a 2 MiB event in LevelDB's log.
      fillDisk(filler, 64 * 1024);
      const big = randomBytes(2 * MiB);
      // It is LevelDB's write that fails (the error names the index), after the blob was written.
      await assert.rejects(w.append({ expectedHead: head, events: [big], blobs: [blob(4096)] }), (e) => noSpace(e) && String(e.details.path).endsWith('index'));
      assert.equal(statSync(packFile).size, packSize, 'the pack file is cut back');
      // Both halves fail on a disk with no byte free; reads go on.
      fillDisk(filler);
      await assert.rejects(w.append({ expectedHead: head, events: [big] }), noSpace);
      await assert.rejects(w.append({ expectedHead: head, events: [Buffer.from('x')], blobs: [blob(4096)] }), noSpace);
      assert.equal(statSync(packFile).size, packSize);
      assert.equal((await w.head())!.seq, head);
      const r = await LocalStore.open(J);
      try {
        assert.equal((await r.head())!.seq, head);
      } finally {
        await r.close();
      }

      rmSync(filler);
      const later = [big, Buffer.from('after the full disk')];
      head = (await w.append({ expectedHead: head, events: later, blobs: [blob(4096)] })).head.seq;
      events.push(...later);
      head = (await w.append({ expectedHead: head, events: [Buffer.from('one more')] })).head.seq;
      events.push(Buffer.from('one more'));
    } finally {
      await w.close();
    }
    assert.deepEqual(
      readdirSync(tmpdir()).filter((n) => n.startsWith('ttj-index-')),
      copies,
      'the private index copies are removed',
    );
    // Opened again (LevelDB replays its log): exactly the committed events.
    const again = await LocalStore.open(J, { write: true });
    try {
      assert.equal((await again.head())!.seq, events.length - 1);
      const read: Buffer[] = [];
      for await (const e of again.readEvents(0)) read.push(e.bytes);
      assert.deepEqual(
        read.map((b) => sha(b)),
        events.map((b) => sha(b)),
      );
      assert.equal((await again.stats()).blobs, 2);
      const all: Buffer[] = [];
      for await (const a of again.listBlobs()) all.push(a);
      await again.getBlobs(all); // every blob reads back and hashes to its address
    } finally {
      await again.close();
    }
  });

  it('a flush that cannot be made durable (the disk filled since the write) is TTJ_NO_SPACE, and the disk device keeps it as the cause ttj record reports', async () => {
    const { JournalBlockDevice } = await import('../../src/capture/journal-block-device.js');
    const J = join(fs.dir, 'j');
    writeFileSync(tmp.path('d.img'), Buffer.alloc(4 * MiB));
    const w = await JournalWriter.openWriter(J, { create: true });
    try {
      await appendImages(w, { disks: [{ name: 'd0', path: tmp.path('d.img') }] });
      const dev = JournalBlockDevice.live(w, 'd0');
      await dev.write(0, randomBytes(64 * 1024), { fua: false });
      assert.equal(dev.journalError, undefined);
      fillDisk(join(fs.dir, 'filler'));
      // QEMU flushes its disks when a device-state save completes (ttj record's pause). A flush
      // writes a few bytes to LevelDB's log: it fails once the log needs a page the disk no longer has.
      let failure: unknown;
      for (let i = 0; i < 2000 && failure === undefined; i++) await dev.flush().catch((e: unknown) => (failure = e));
      assert.ok(noSpace(failure), String(failure));
      assert.equal(dev.journalError, failure);
    } finally {
      await w.close().catch(() => undefined);
    }
  });

  it('ttj fold into a file system that fills up is TTJ_NO_SPACE (exit 5) and leaves no fold behind, whether the decoding threads write the pages or the JS thread does', () => {
    // 24 MiB of random pages (a bulk read: the decoding threads write them) into 12 MiB.
    const J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), randomBytes(24 * MiB));
    assert.equal(ttj(['append', J, '--memory', tmp.path('m.raw'), '--json']).status, 0);
    for (const env of [{ ...process.env }, { ...process.env, TTJ_WORKERS: '0' }]) {
      const out = join(fs.dir, `out-${env.TTJ_WORKERS ?? 'pool'}`);
      const r = ttj(['fold', J, '--at', 'head', '--out', out, '--json'], { env });
      assert.equal(r.status, 5, r.stdout + r.stderr);
      assert.equal(r.json.error.code, ErrorCodes.NO_SPACE);
      const files = existsSync(out) ? readdirSync(out, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
      assert.deepEqual(files, [], 'no file of the fold behind, not even in part');
    }
  });

  it('ttj nbd: a write that cannot be journaled is answered ENOSPC, reads go on, writes work again once there is space', async () => {
    const J = join(fs.dir, 'j');
    const filler = join(fs.dir, 'filler');
    writeFileSync(tmp.path('d.img'), Buffer.alloc(8 * MiB));
    assert.equal(ttj(['append', J, '--disk', `d0=${tmp.path('d.img')}`, '--json']).status, 0);
    const sock = tmp.path('s.sock');
    const url = `nbd+unix:///d0?socket=${sock}`;
    const io = async (...cmds: string[]) => {
      // A failed request is reported on stdout, with exit 0 or 1 depending on the command.
      const r = await execFileP('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), url], { encoding: 'utf8' }).catch((e: { stdout?: string; stderr?: string }) => ({
        stdout: e.stdout ?? '',
        stderr: (e.stderr ?? '') + ' (exit non-zero)',
      }));
      return r.stdout + r.stderr;
    };
    const child = spawn(process.execPath, [ttjBin, 'nbd', J, '--disk', 'd0', '--socket', sock, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    try {
      for (let i = 0; i < 150 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
      assert.doesNotMatch(await io('write -P 0x11 0 1M'), /failed/);
      fillDisk(filler);
      // Random bytes: they need a MiB of pack file (a pattern would fit the last page's slack).
      writeFileSync(tmp.path('rand.bin'), randomBytes(MiB));
      const refused = await io(`write -s ${tmp.path('rand.bin')} 2M 1M`);
      assert.match(refused, /write failed: No space left on device/, refused);
      assert.doesNotMatch(await io('read -P 0x11 0 1M', 'read -P 0 2M 1M'), /failed/);
      rmSync(filler);
      assert.doesNotMatch(await io('write -P 0x33 4M 1M'), /failed/);
      assert.doesNotMatch(await io('read -P 0x11 0 1M', 'read -P 0 2M 1M', 'read -P 0x33 4M 1M'), /failed/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.equal(JSON.parse(out).writes, 2);
    assert.equal(ttj(['verify', J, '--deep', '--json']).json.ok, true);
    assert.equal(ttj(['fold', J, '--at', 'head', '--out', tmp.path('o'), '--json']).status, 0);
    const d = readFileSync(tmp.path('o', 'disks', 'd0.raw'));
    assert.ok(d.subarray(0, MiB).every((b) => b === 0x11));
    assert.ok(d.subarray(2 * MiB, 3 * MiB).every((b) => b === 0));
    assert.ok(d.subarray(4 * MiB, 5 * MiB).every((b) => b === 0x33));
  });
});
