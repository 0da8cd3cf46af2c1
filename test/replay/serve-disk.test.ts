import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { serveDisk } from '../../src/replay/serve-disk.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { appendImages } from '../../src/journal/append-images.js';
import { verify } from '../../src/journal/verify.js';
import { rng, randomPage } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { foldDisk } from '../helpers/with-journal.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');
const SIZE = 8 * 1024 * 1024;

const execFileP = promisify(execFile);

/** Runs a client asynchronously (the NBD server runs in this process: never block its event loop). */
async function run(cmd: string, args: string[]): Promise<string> {
  const r = await execFileP(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  // qemu-io reports a failed `read -P` and failed requests on stdout with exit 0.
  if (/verification failed|failed:/i.test(r.stdout + r.stderr)) throw new Error(`${cmd} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function runStatus(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await execFileP(cmd, args, { encoding: 'utf8' });
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, out: (x.stdout ?? '') + (x.stderr ?? '') };
  }
}

describe('a journal disk served over NBD to real clients @slow', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let J: string;
  beforeEach(async () => {
    J = tmp.path('j');
    writeFileSync(tmp.path('d0.img'), Buffer.alloc(SIZE));
    const w = await JournalWriter.openWriter(J);
    await appendImages(w, { disks: [{ name: 'd0', path: tmp.path('d0.img') }] });
    await w.close();
  });

  it('journals every write: fold at the seq after each batch equals a model of the writes', async () => {
    const served = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('s.sock') });
    const url = served.url;
    const model = Buffer.alloc(SIZE);
    const seqs: { seq: number; image: Buffer }[] = [];
    try {
      // batch 1: qemu-io patterns (unaligned too), write -z, discard, flush
      await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 0 1M', '-c', 'write -P 0xcd 4097 1000', '-c', 'write -z 512k 64k', '-c', 'discard 2M 64k', '-c', 'flush', url]);
      model.fill(0xab, 0, 1 << 20);
      model.fill(0xcd, 4097, 5097);
      model.fill(0, 512 << 10, (512 + 64) << 10);
      seqs.push({ seq: served.writer!.headSeqNumber, image: Buffer.from(model) });
      // batch 2: FUA writes and verified reads
      await run('qemu-io', ['-f', 'raw', '-c', 'write -f -P 0x11 3M 12k', '-c', 'read -P 0x11 3M 12k', '-c', 'read -P 0xcd 4097 1000', url]);
      model.fill(0x11, 3 << 20, (3 << 20) + 12 * 1024);
      seqs.push({ seq: served.writer!.headSeqNumber, image: Buffer.from(model) });
      // batch 3: qemu-img convert a random image in, nbdcopy it out
      const r = rng(3);
      const img = Buffer.alloc(SIZE);
      for (let p = 0; p < SIZE / 4096; p += 3) randomPage(img.subarray(p * 4096, (p + 1) * 4096), r);
      writeFileSync(tmp.path('in.img'), img);
      await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', tmp.path('in.img'), url]);
      img.copy(model);
      seqs.push({ seq: served.writer!.headSeqNumber, image: Buffer.from(model) });
      await run('nbdcopy', [url, tmp.path('out.img')]);
      assert.ok(readFileSync(tmp.path('out.img')).equals(model), 'nbdcopy reads back what was written');
      const info = JSON.parse(await run('nbdinfo', ['--json', url]));
      assert.equal(info.exports[0]['export-size'], SIZE);
      // a reader in another process sees the writes while the server runs
      const log = JSON.parse(await run(process.execPath, [bin, 'log', J, '--json']));
      assert.equal(log.head.seq, served.writer!.headSeqNumber);
      const d0 = log.disks.find((d: { disk: string }) => d.disk === 'd0');
      assert.ok(d0.writes >= 7, `disk writes in ttj log: ${JSON.stringify(d0)}`);
      assert.equal(d0.lastSeq, log.head.seq);
    } finally {
      await served.close();
    }
    for (const [i, s] of seqs.entries()) {
      const disk = await foldDisk(J, `seq:${s.seq}`, tmp.path(`o${i}`), 'd0');
      assert.ok(disk.equals(s.image), `disk at seq ${s.seq} (batch ${i})`);
    }
    const j = await Journal.open(J);
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
    } finally {
      await j.close();
    }
  });

  it('overlapping unaligned writes in flight together (grouped, pipelined commits) give exactly the model, at every seq', async () => {
    const { JournalBlockDevice } = await import('../../src/capture/journal-block-device.js');
    const w = await JournalWriter.openWriter(J);
    const model = Buffer.alloc(SIZE);
    const r = rng(42);
    const states: { seq: number; bytes: Buffer }[] = [];
    try {
      const dev = JournalBlockDevice.live(w, 'd0');
      assert.equal(dev.blockSize, 64 * 1024);
      for (let wave = 0; wave < 4; wave++) {
        const ops: Promise<void>[] = [];
        for (let i = 0; i < 300; i++) {
          // Some arrive while earlier groups are being built and committed.
          if (i % 40 === 39) await new Promise((res) => setImmediate(res));
          // Mostly small writes around a few hot blocks, at odd offsets and lengths, some zeroing.
          const hot = (r() % 6) * 64 * 1024 + (r() % 3) * 1024 * 1024;
          const offset = Math.min(SIZE - 1, Math.max(0, hot + (r() % (70 * 1024)) - 3000));
          const length = Math.min(SIZE - offset, 1 + (r() % 9000));
          if (r() % 5 === 0) {
            model.fill(0, offset, offset + length);
            ops.push(dev.writeZeroes(offset, length, { fua: false, mayTrim: true }));
          } else {
            const data = Buffer.alloc(length, (r() % 255) + 1);
            randomPage(data, r);
            data.copy(model, offset);
            ops.push(dev.write(offset, data, { fua: false }));
          }
        }
        await Promise.all(ops);
        const back = await dev.read(0, SIZE);
        assert.ok(back.equals(model), `device reads equal the model after wave ${wave}`);
        states.push({ seq: w.headSeqNumber, bytes: Buffer.from(model) });
      }
    } finally {
      await w.close();
    }
    for (const [i, st] of states.entries()) assert.ok((await foldDisk(J, `seq:${st.seq}`, tmp.path(`f${i}`), 'd0')).equals(st.bytes), `fold at seq ${st.seq}`);
    const j = await Journal.open(J);
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
    } finally {
      await j.close();
    }
  });

  it('serves a past point read-only, and refuses writes to it', async () => {
    const first = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('a.sock') });
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x77 0 64k', first.url]);
    const mid = first.writer!.headSeqNumber;
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x88 0 64k', first.url]);
    await first.close();
    const past = await serveDisk(J, { disk: 'd0', at: `seq:${mid}`, readOnly: true, socketPath: tmp.path('b.sock') });
    try {
      await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read -P 0x77 0 64k', past.url]);
      const w = await runStatus('qemu-io', ['-f', 'raw', '-c', 'write -P 0x99 0 4k', past.url]);
      assert.match(w.out, /Operation not permitted|read-only|Permission denied/i);
    } finally {
      await past.close();
    }
    await assert.rejects(serveDisk(J, { disk: 'd0', at: 'head' }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(serveDisk(J, { disk: 'nope', socketPath: tmp.path('c.sock') }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });

  it('a read-only server of a past point in another process does not keep a live writer out: it hands the index over and serves on', async () => {
    const first = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('a.sock') });
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x77 0 64k', '-c', 'write -P 0x78 1M 64k', first.url]);
    const mid = first.writer!.headSeqNumber;
    await first.close();
    const roSock = tmp.path('ro.sock');
    const roUrl = `nbd+unix:///d0?socket=${roSock}`;
    const ro = spawn(process.execPath, [bin, 'nbd', J, '--disk', 'd0', '--at', `seq:${mid}`, '--read-only', '--socket', roSock], { stdio: 'ignore' });
    const exited = new Promise((r) => ro.on('exit', r));
    try {
      for (let i = 0; i < 100 && !existsSync(roSock); i++) await new Promise((r) => setTimeout(r, 100));
      // The read-only server opened the index (no writer was running): it holds it.
      await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read -P 0x77 0 64k', roUrl]);
      const t0 = Date.now();
      const live = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('live.sock') });
      // Handed over at once, not after the writer's 30 s wait for the index.
      assert.ok(Date.now() - t0 < 5000, `the writer waited ${Date.now() - t0} ms for the index`);
      try {
        await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x88 1M 64k', live.url]);
        // The past point is still served, its block locations now read through the writer.
        await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read -P 0x78 1M 64k', roUrl]);
        await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read -P 0x88 1M 64k', live.url]);
      } finally {
        await live.close();
      }
      await run('qemu-io', ['-f', 'raw', '-r', '-c', 'read -P 0x77 0 64k', '-c', 'read -P 0x78 1M 64k', roUrl]);
    } finally {
      ro.kill('SIGTERM');
      await exited;
    }
    const d = await foldDisk(J, 'head', tmp.path('h'), 'd0');
    assert.equal(d[1024 * 1024], 0x88);
  });

  it('a writable fork at a past point leaves the parent unchanged', async () => {
    const first = await serveDisk(J, { disk: 'd0', socketPath: tmp.path('a.sock') });
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x77 0 64k', first.url]);
    await first.close();
    const parentHead = JSON.parse(await run(process.execPath, [bin, 'log', J, '--json'])).head.seq;
    const fork = await serveDisk(J, { disk: 'd0', at: 'epoch:0', fork: tmp.path('j2'), socketPath: tmp.path('f.sock') });
    try {
      await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0 0 64k', '-c', 'write -P 0x42 8k 4k', fork.url]);
    } finally {
      await fork.close();
    }
    assert.equal(JSON.parse(await run(process.execPath, [bin, 'log', J, '--json'])).head.seq, parentHead);
    const d = await foldDisk(tmp.path('j2'), 'head', tmp.path('fo'), 'd0');
    assert.equal(d[8192], 0x42);
    assert.equal(d[0], 0);
  });

  it('the ttj nbd command serves until SIGTERM and reports the writes', async () => {
    const sock = tmp.path('cmd.sock');
    const child = spawn(process.execPath, [bin, 'nbd', J, '--disk', 'd0', '--socket', sock, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5 0 8k', `nbd+unix:///d0?socket=${sock}`]);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0);
    const res = JSON.parse(out);
    assert.equal(res.writes, 1);
    assert.equal(res.url, `nbd+unix:///d0?socket=${sock}`);
  });

  it('the ttj nbd command killed outright (SIGKILL) leaves no server behind: the journal is free again and keeps its writes', async () => {
    const sock = tmp.path('kill.sock');
    const child = spawn(process.execPath, [bin, 'nbd', J, '--disk', 'd0', '--socket', sock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x6 64k 64k', `nbd+unix:///d0?socket=${sock}`]);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    // The server (bin/run.js runs it in a child Node) stops when its parent is gone.
    let w: JournalWriter | undefined;
    for (let i = 0; i < 50 && !w; i++) {
      try {
        w = await JournalWriter.openWriter(J, { waitMs: 100 });
      } catch (e) {
        if (!isTtjError(e, ErrorCodes.LOCKED)) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(w, 'the journal is free within 5 s');
    await w.close();
    const disk = await foldDisk(J, 'head', tmp.path('k'), 'd0');
    assert.ok(disk.subarray(64 * 1024, 128 * 1024).equals(Buffer.alloc(64 * 1024, 6)));
  });
});
