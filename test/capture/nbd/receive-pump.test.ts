/**
 * The transmission phase is received by the native addon's pump (a thread of its own,
 * large reused buffers) or, as the fallback, by Node's socket reads: both must hand
 * the device the same bytes. The same real clients run against each and the disk file
 * must equal the model byte for byte, including payloads that straddle the pump's
 * receive buffers (8 MiB) and a client that goes away in the middle of a payload.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlockDevice } from '../../../src/capture/nbd/block-device.js';
import { FileBlockDevice } from '../../../src/capture/nbd/file-block-device.js';
import { startNbdServer, type NbdDisconnectEvent, type NbdServer } from '../../../src/capture/nbd/server.js';
import * as C from '../../../src/capture/nbd/constants.js';
import { socketPumpAvailable } from '../../../src/native/socket-pump.js';
import { assertFileEquals } from '../../helpers/assert-file-equals.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { RawClient } from '../../helpers/nbd-raw-client.js';
import { runOk } from '../../helpers/run-process.js';
import { tmpDirWithCleanup } from '../../helpers/tmp.js';

const MiB = 1024 * 1024;
const SIZE = 48 * MiB;

for (const mode of ['native', 'node'] as const) {
  describe(`nbd server receiving with ${mode === 'native' ? 'the native pump' : "Node's socket reads (the fallback)"} @slow`, function () {
    this.timeout(180_000);
    let dir: string;
    let cleanup: () => Promise<void>;
    let server: NbdServer;
    let dev: FileBlockDevice;
    let diskPath: string;
    let model: Buffer;
    const ends: NbdDisconnectEvent[] = [];
    const saved = process.env.TTJ_NBD_RECEIVE;

    before(async () => {
      if (mode === 'node') process.env.TTJ_NBD_RECEIVE = 'node';
      else {
        delete process.env.TTJ_NBD_RECEIVE;
        // The addon is built by npm ci (and npm run build:native); its absence is a failure here.
        assert.ok(socketPumpAvailable(), 'the native addon has no socket pump: run npm run build:native');
      }
      ({ dir, cleanup } = await tmpDirWithCleanup());
      diskPath = join(dir, 'disk.raw');
      model = Buffer.alloc(SIZE);
      await writeFile(diskPath, model);
      dev = await FileBlockDevice.open(diskPath);
      server = await startNbdServer({ exports: new Map([['disk', dev]]), socketPath: join(dir, 'nbd.sock') });
      server.on('disconnect', (e) => ends.push(e));
    });

    after(async () => {
      if (saved === undefined) delete process.env.TTJ_NBD_RECEIVE;
      else process.env.TTJ_NBD_RECEIVE = saved;
      await server?.close();
      await dev?.close();
      await cleanup?.();
    });

    const checkDisk = (what: string): Promise<void> => assertFileEquals(diskPath, model, what);

    it('nbdcopy over several connections writes every byte, received by the expected reader', async () => {
      const src = randomBytes(SIZE, prng(mode === 'native' ? 11 : 12));
      const srcPath = join(dir, 'src.raw');
      await writeFile(srcPath, src);
      const before = ends.length;
      await runOk('nbdcopy', ['--connections=2', srcPath, server.urlFor('disk')]);
      src.copy(model);
      await checkDisk('after nbdcopy');
      while (server.connections > 0) await new Promise((r) => setTimeout(r, 10));
      const mine = ends.slice(before);
      assert.ok(mine.length >= 1);
      for (const e of mine) assert.equal(e.receive, mode);
    });

    it('large, odd-sized and unaligned writes (payloads straddling receive buffers) land exactly', async () => {
      const rnd = prng(mode === 'native' ? 21 : 22);
      const cmds: string[] = [];
      for (let i = 0; i < 24; i++) {
        // Up to 12 MiB per request: more than one 8 MiB receive buffer.
        const len = 1 + Math.floor(rnd() * 12 * MiB);
        const off = Math.floor(rnd() * (SIZE - len));
        const pat = 1 + Math.floor(rnd() * 250);
        cmds.push('-c', `write -P ${pat} ${off} ${len}`);
        model.fill(pat, off, off + len);
      }
      cmds.push('-c', 'flush');
      await runOk('qemu-io', ['-f', 'raw', ...cmds, server.urlFor('disk')], 120_000);
      await checkDisk('after qemu-io');
    });

    it('a connection the server destroys on its close timeout ends for the client, with a write still stuck', async () => {
      let release: () => void = () => undefined;
      const stuckWrite = new Promise<void>((r) => (release = r));
      const stuck: BlockDevice = {
        size: MiB,
        readOnly: false,
        read: async (_o, n) => Buffer.alloc(n),
        write: () => stuckWrite,
        writeZeroes: async () => undefined,
        trim: async () => undefined,
        flush: async () => undefined,
      };
      const s2 = await startNbdServer({ exports: new Map([['stuck', stuck]]), socketPath: join(dir, 'stuck.sock'), closeTimeoutMs: 200 });
      const c = await RawClient.connect({ path: join(dir, 'stuck.sock') }, 'stuck');
      c.send(C.NBD_CMD_WRITE, 0, 0, 4096, Buffer.alloc(4096, 1));
      await new Promise((r) => setTimeout(r, 50));
      const closing = s2.close();
      // The client sees the connection end once the timeout destroyed it, although the
      // receiving side (the pump's own descriptor) was still open.
      assert.equal(await c.closed(3000), true);
      release();
      await closing;
    });

    it('a payload that arrives in several pieces reaches the device as one buffer, its bytes intact', async () => {
      const got: Buffer[] = [];
      const recording: BlockDevice = {
        size: 4 * MiB,
        readOnly: false,
        read: async (_o, n) => Buffer.alloc(n),
        write: async (_o, data) => {
          got.push(Buffer.from(data));
          // Received by the pump: a view of its receive buffer, not a copy assembled from pieces.
          if (mode === 'native') assert.ok(data.buffer.byteLength > data.length, 'the payload was copied out of the receive buffer');
        },
        writeZeroes: async () => undefined,
        trim: async () => undefined,
        flush: async () => undefined,
      };
      const s2 = await startNbdServer({ exports: new Map([['rec', recording]]), socketPath: join(dir, 'rec.sock') });
      try {
        const c = await RawClient.connect({ path: join(dir, 'rec.sock') }, 'rec');
        const payload = randomBytes(MiB, prng(mode === 'native' ? 31 : 32));
        c.send(C.NBD_CMD_WRITE, 0, 0, payload.length, payload.subarray(0, 1000));
        for (const [from, to] of [
          [1000, 300_000],
          [300_000, 300_001],
          [300_001, MiB],
        ] as const) {
          await new Promise((r) => setTimeout(r, 30));
          c.socket.write(payload.subarray(from, to));
        }
        const r = await c.reply();
        assert.equal(r.error, 0);
        assert.equal(got.length, 1);
        assert.ok(got[0]!.equals(payload));
        c.socket.destroy();
      } finally {
        await s2.close();
      }
    });

    it('a client gone in the middle of a payload changes nothing, and the next client is served', async () => {
      const before = ends.length;
      const c = await RawClient.connect({ path: join(dir, 'nbd.sock') }, 'disk');
      const payload = Buffer.alloc(4 * MiB, 0x5a);
      // The header and half the payload, then the connection drops.
      c.send(C.NBD_CMD_WRITE, 0, 0, payload.length, payload.subarray(0, 2 * MiB));
      await new Promise((r) => setTimeout(r, 50));
      c.socket.destroy();
      while (ends.length === before) await new Promise((r) => setTimeout(r, 10));
      assert.equal(ends[before]!.reason, 'peer-gone');
      assert.equal(ends[before]!.receive, mode);
      await checkDisk('after the dropped client');
      const out = join(dir, 'out.raw');
      await runOk('nbdcopy', [server.urlFor('disk'), out]);
      assert.ok((await readFile(out)).equals(model));
    });
  });
}
