/**
 * A model of writes: the same random operations are sent through real clients and applied
 * to an in-memory Buffer; the file behind the server must equal the model byte for byte.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as C from '../../../src/capture/nbd/constants.js';
import { FileBlockDevice } from '../../../src/capture/nbd/file-block-device.js';
import { startNbdServer, type NbdServer } from '../../../src/capture/nbd/server.js';
import { assertFileEquals } from '../../helpers/assert-file-equals.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { RawClient } from '../../helpers/nbd-raw-client.js';
import { runOk } from '../../helpers/run-process.js';
import { tmpDirWithCleanup } from '../../helpers/tmp.js';

const MiB = 1024 * 1024;
const SIZE = 16 * MiB;

describe('nbd server: a model of writes', function () {
  this.timeout(180_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: NbdServer;
  let dev: FileBlockDevice;
  let diskPath: string;
  let model: Buffer;
  const patterns: Buffer[] = [];

  before(async () => {
    ({ dir, cleanup } = await tmpDirWithCleanup());
    diskPath = join(dir, 'disk.raw');
    model = randomBytes(SIZE, prng(5));
    await writeFile(diskPath, model);
    dev = await FileBlockDevice.open(diskPath);
    server = await startNbdServer({ exports: new Map([['disk', dev]]), socketPath: join(dir, 'nbd.sock') });
    for (let i = 0; i < 4; i++) {
      patterns.push(randomBytes(MiB, prng(100 + i)));
      await writeFile(join(dir, `pat${i}`), patterns[i]);
    }
  });

  after(async () => {
    await server?.close();
    await dev?.close();
    await cleanup?.();
  });

  const checkDisk = (what: string): Promise<void> => assertFileEquals(diskPath, model, what);

  /** Random qemu-io commands over [lo, hi), applied to the model as they are generated. */
  function ops(seed: number, n: number, lo: number, hi: number): string[] {
    const rnd = prng(seed);
    const cmds: string[] = [];
    for (let i = 0; i < n; i++) {
      const aligned = rnd() < 0.7;
      let len = aligned ? 512 * (1 + Math.floor(rnd() * 256)) : 1 + Math.floor(rnd() * 70_000);
      len = Math.min(len, hi - lo);
      let off = lo + Math.floor(rnd() * (hi - lo - len + 1));
      if (aligned) off -= (off - lo) % 512;
      const k = rnd();
      if (k < 0.35) {
        const p = Math.floor(rnd() * 256);
        cmds.push(`write ${rnd() < 0.3 ? '-f ' : ''}-P ${p} ${off} ${len}`);
        model.fill(p, off, off + len);
      } else if (k < 0.65) {
        const which = Math.floor(rnd() * patterns.length);
        cmds.push(`write -s ${join(dir, `pat${which}`)} ${off} ${len}`);
        patterns[which].copy(model, off, 0, len);
      } else if (k < 0.8) {
        cmds.push(`write -z ${rnd() < 0.5 ? '-u ' : ''}${off} ${len}`);
        model.fill(0, off, off + len);
      } else if (k < 0.9) {
        cmds.push(`discard ${off} ${len}`);
        model.fill(0, off, off + len); // FileBlockDevice's default trim zeroes
      } else if (k < 0.95) {
        cmds.push('flush');
      } else {
        cmds.push(`read -P ${model[off]} ${off} 1`);
      }
    }
    return cmds;
  }

  async function qemuIo(cmds: string[]): Promise<void> {
    for (let i = 0; i < cmds.length; i += 60) {
      const args = ['-f', 'raw'];
      for (const c of cmds.slice(i, i + 60)) args.push('-c', c);
      args.push(server.urlFor('disk'));
      const r = await runOk('qemu-io', args);
      assert.doesNotMatch(r.stdout + r.stderr, /fail|error/i);
    }
  }

  it('random writes, zeroes, discards and FUA writes through qemu-io match the model', async () => {
    await qemuIo(ops(1, 300, 0, SIZE));
    await checkDisk('after qemu-io');
    const out = join(dir, 'out.raw');
    await runOk('nbdcopy', [server.urlFor('disk'), out]);
    assert.ok((await readFile(out)).equals(model), 'nbdcopy reads back the model');
  });

  it('several clients at once (qemu-io writers on disjoint ranges, nbdcopy and qemu-img readers) match the model', async () => {
    const writers = [0, 1, 2, 3].map((i) => ops(10 + i, 120, i * 4 * MiB, (i + 1) * 4 * MiB));
    const readers = [
      runOk('nbdcopy', [server.urlFor('disk'), join(dir, 'r1.raw')]),
      runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', server.urlFor('disk'), join(dir, 'r2.raw')]),
      runOk('nbdinfo', ['--size', server.urlFor('disk')]),
    ];
    await Promise.all([...writers.map((w) => qemuIo(w)), ...readers]);
    await checkDisk('after concurrent clients');
  });

  it('nbdcopy over 4 connections (multi-conn) writes the whole disk', async () => {
    const data = randomBytes(SIZE, prng(77));
    await writeFile(join(dir, 'src.raw'), data);
    await runOk('nbdcopy', ['--connections=4', '--flush', join(dir, 'src.raw'), server.urlFor('disk')]);
    data.copy(model);
    await checkDisk('after nbdcopy');
  });

  it('pipelined overlapping writes on one connection land in request order', async () => {
    const c = await RawClient.connect({ path: server.socketPath! }, 'disk');
    const rnd = prng(3);
    const cookies: bigint[] = [];
    for (let i = 0; i < 200; i++) {
      const off = Math.floor(rnd() * 64) * 4096;
      const len = 4096 * (1 + Math.floor(rnd() * 8));
      const k = rnd();
      if (k < 0.7) {
        const b = randomBytes(len, rnd);
        cookies.push(c.send(C.NBD_CMD_WRITE, 0, off, len, b));
        b.copy(model, off);
      } else if (k < 0.85) {
        cookies.push(c.send(C.NBD_CMD_WRITE_ZEROES, 0, off, len));
        model.fill(0, off, off + len);
      } else {
        cookies.push(c.send(C.NBD_CMD_TRIM, 0, off, len));
        model.fill(0, off, off + len);
      }
    }
    const got = new Set<bigint>();
    for (let i = 0; i < cookies.length; i++) {
      const r = await c.reply();
      assert.equal(r.error, 0);
      got.add(r.cookie);
    }
    assert.equal(got.size, cookies.length);
    // A read pipelined right behind writes sees them.
    const r = await c.request(C.NBD_CMD_READ, 0, 0, 64 * 4096 + 8 * 4096);
    assert.ok(r.data!.equals(model.subarray(0, 72 * 4096)));
    await c.disconnect();
    await checkDisk('after pipelined writes');
  });
});
