import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendImages } from '../../src/journal/append-images.js';
import { Journal } from '../../src/journal/journal.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import * as C from '../../src/capture/nbd/constants.js';
import { randomPage, rng } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { RawClient } from '../helpers/nbd-raw-client.js';
import { runOk } from '../helpers/run-process.js';
import { foldDisk } from '../helpers/with-journal.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');
const SECTOR = 512;

/** Starts `ttj nbd` on a unix socket and waits for the socket. */
async function ttjNbd(args: string[], sock: string): Promise<{ child: ChildProcess; stop(): Promise<any> }> {
  const child = spawn(process.execPath, [bin, 'nbd', ...args, '--socket', sock, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  for (let i = 0; i < 200 && !existsSync(sock) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(sock), 'ttj nbd serves');
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      return JSON.parse(out);
    },
  };
}

describe('a disk with a short last block served over NBD by ttj nbd @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();

  for (const [what, size] of [
    ['3 MiB + 7 sectors', 3 * 1024 * 1024 + 7 * SECTOR],
    ['an ISO-like 2048-byte multiple', 523 * 2048],
  ] as const) {
    it(`${what}: exactly its size over NBD, the last sector written by qemu-io, read back by qemu-img and nbdcopy, folded exactly`, async () => {
      const J = tmp.path('j');
      const r = rng(5);
      const model = Buffer.alloc(size);
      for (let s = 0; s < size / SECTOR; s += 5) randomPage(model.subarray(s * SECTOR, (s + 1) * SECTOR), r);
      writeFileSync(tmp.path('d.img'), model);
      const w = await JournalWriter.openWriter(J);
      await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }] });
      await w.close();

      const sock = tmp.path('d.sock');
      const url = `nbd+unix:///d?socket=${sock}`;
      const server = await ttjNbd([J, '--disk', 'd'], sock);
      try {
        const info = JSON.parse((await runOk('nbdinfo', ['--json', url])).stdout);
        assert.equal(info.exports[0]['export-size'], size);
        // The last sector, and an unaligned write across into the short last block.
        const io = await runOk('qemu-io', ['-f', 'raw', '-c', `write -P 0x5a ${size - SECTOR} ${SECTOR}`, '-c', `write -P 0x33 ${size - 70000} 66000`, '-c', 'flush', url]);
        assert.doesNotMatch(io.stdout + io.stderr, /failed/i);
        model.fill(0x5a, size - SECTOR);
        model.fill(0x33, size - 70000, size - 4000);
        const back = await runOk('qemu-io', ['-f', 'raw', '-r', '-c', `read -P 0x5a ${size - SECTOR} ${SECTOR}`, url]);
        assert.doesNotMatch(back.stdout + back.stderr, /failed/i);
        await runOk('nbdcopy', [url, tmp.path('nbdcopy.img')]);
        assert.ok(readFileSync(tmp.path('nbdcopy.img')).equals(model), 'nbdcopy reads exactly the disk');
        await runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, tmp.path('qemu-img.img')]);
        assert.ok(readFileSync(tmp.path('qemu-img.img')).equals(model), 'qemu-img reads exactly the disk');
        // Past the end: a read is EINVAL, a write ENOSPC (the NBD protocol's answers); the disk's own last sector is fine.
        const c = await RawClient.connect({ path: sock }, 'd');
        try {
          assert.equal(c.size, size);
          assert.equal((await c.request(C.NBD_CMD_READ, 0, size, SECTOR)).error, C.NBD_EINVAL);
          assert.equal((await c.request(C.NBD_CMD_READ, 0, size - SECTOR, 2 * SECTOR)).error, C.NBD_EINVAL);
          assert.equal((await c.request(C.NBD_CMD_WRITE, 0, size - SECTOR, 2 * SECTOR, Buffer.alloc(2 * SECTOR, 1))).error, C.NBD_ENOSPC);
          const last = await c.request(C.NBD_CMD_READ, 0, size - SECTOR, SECTOR);
          assert.equal(last.error, 0);
          assert.ok(last.data!.equals(Buffer.alloc(SECTOR, 0x5a)));
          assert.equal((await c.request(C.NBD_CMD_WRITE_ZEROES, 0, size - 2 * SECTOR, 2 * SECTOR)).error, 0);
          model.fill(0, size - 2 * SECTOR);
        } finally {
          await c.disconnect();
        }
      } finally {
        const res = await server.stop();
        assert.ok(res.writes >= 3);
      }
      assert.ok((await foldDisk(J, 'head', tmp.path('o'), 'd')).equals(model), 'fold gives exactly the disk');
      const j = await Journal.open(J);
      try {
        assert.equal((await verify(j, { deep: true })).ok, true);
      } finally {
        await j.close();
      }
    });
  }

  it('writes of every shape around the short last block, in flight together, give exactly the model at every seq', async () => {
    const { JournalBlockDevice } = await import('../../src/capture/journal-block-device.js');
    const size = 1024 * 1024 + 7 * SECTOR; // 64 KiB blocks: the last one holds 3584 bytes
    const J = tmp.path('j');
    writeFileSync(tmp.path('d.img'), Buffer.alloc(size));
    const w = await JournalWriter.openWriter(J);
    const model = Buffer.alloc(size);
    const r = rng(9);
    const states: { seq: number; bytes: Buffer }[] = [];
    try {
      await appendImages(w, { disks: [{ name: 'd', path: tmp.path('d.img') }] });
      const dev = JournalBlockDevice.live(w, 'd');
      for (let wave = 0; wave < 3; wave++) {
        const ops: Promise<void>[] = [];
        for (let i = 0; i < 200; i++) {
          if (i % 30 === 29) await new Promise((res) => setImmediate(res));
          // Mostly within the last 140 KiB: across the last whole block into the short one, or ending at the end.
          const offset = size - 1 - (r() % (140 * 1024));
          const length = r() % 4 === 0 ? size - offset : 1 + (r() % Math.min(9000, size - offset));
          if (r() % 5 === 0) {
            model.fill(0, offset, offset + length);
            ops.push(dev.writeZeroes(offset, length, { fua: false, mayTrim: true }));
          } else {
            const data = Buffer.alloc(length, (r() % 255) + 1);
            data.copy(model, offset);
            ops.push(dev.write(offset, data, { fua: false }));
          }
        }
        await Promise.all(ops);
        assert.ok((await dev.read(0, size)).equals(model), `device reads equal the model after wave ${wave}`);
        assert.ok((await dev.read(size - 100, 100)).equals(model.subarray(size - 100)));
        states.push({ seq: w.headSeqNumber, bytes: Buffer.from(model) });
      }
      // The last sector alone; then the short block is stored as a whole block, padded with zeroes.
      await dev.write(size - SECTOR, Buffer.alloc(SECTOR, 0x42), { fua: true });
      model.fill(0x42, size - SECTOR);
      states.push({ seq: w.headSeqNumber, bytes: Buffer.from(model) });
      const d = w.headState.disks.get('d')!;
      const [last] = await w.blobs([d.table.get(d.table.count - 1)]);
      assert.equal(last!.length, 64 * 1024);
      assert.ok(last!.subarray(7 * SECTOR).equals(Buffer.alloc(64 * 1024 - 7 * SECTOR)), 'zeroes past the disk end');
    } finally {
      await w.close();
    }
    for (const [i, st] of states.entries()) assert.ok((await foldDisk(J, `seq:${st.seq}`, tmp.path(`f${i}`), 'd')).equals(st.bytes), `fold at seq ${st.seq}`);
    const j = await Journal.open(J);
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
    } finally {
      await j.close();
    }
  });
});
