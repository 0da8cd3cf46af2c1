/**
 * Malformed and hostile traffic, built by hand on a raw socket: each must cost only the
 * offending connection (or get a proper NBD error reply), never the server or the device.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import * as C from '../../../src/capture/nbd/constants.js';
import { FileBlockDevice } from '../../../src/capture/nbd/file-block-device.js';
import { startNbdServer, type NbdDisconnectEvent, type NbdServer } from '../../../src/capture/nbd/server.js';
import type { NbdRequestInfo } from '../../../src/capture/nbd/transmission.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { RawClient, type Target } from '../../helpers/nbd-raw-client.js';
import { runOk } from '../../helpers/run-process.js';
import { tmpDirWithCleanup } from '../../helpers/tmp.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

for (const transport of ['unix', 'tcp'] as const) {
  describe(`nbd server under bad input (${transport})`, function () {
    this.timeout(60_000);
    let dir: string;
    let cleanup: () => Promise<void>;
    let server: NbdServer;
    let dev: FileBlockDevice;
    let roDev: FileBlockDevice;
    let diskPath: string;
    let target: Target;
    let original: Buffer;
    const disconnects: NbdDisconnectEvent[] = [];

    /** The server still serves: a real client reads the disk and it matches the file. */
    async function stillServes(): Promise<void> {
      const r = await runOk('nbdinfo', ['--size', server.urlFor('disk')]);
      assert.equal(r.stdout.trim(), String(SIZE));
      const c = await RawClient.connect(target, 'disk');
      const rd = await c.request(C.NBD_CMD_READ, 0, 4096, 4096);
      assert.equal(rd.error, 0);
      assert.ok(rd.data!.equals((await readFile(diskPath)).subarray(4096, 8192)));
      await c.disconnect();
    }

    before(async () => {
      ({ dir, cleanup } = await tmpDirWithCleanup());
      diskPath = join(dir, 'disk.raw');
      original = randomBytes(SIZE, prng(7));
      await writeFile(diskPath, original);
      dev = await FileBlockDevice.open(diskPath);
      const roPath = join(dir, 'ro.raw');
      await writeFile(roPath, Buffer.alloc(MiB, 0x5a));
      roDev = await FileBlockDevice.open(roPath, { readOnly: true });
      server = await startNbdServer({
        exports: new Map([
          ['disk', dev],
          ['ro', roDev],
        ]),
        ...(transport === 'unix' ? { socketPath: join(dir, 'nbd.sock') } : { port: 0 }),
        handshakeTimeoutMs: 2000,
      });
      server.on('disconnect', (e) => disconnects.push(e));
      target = transport === 'unix' ? { path: server.socketPath! } : { host: '127.0.0.1', port: server.port! };
    });

    after(async () => {
      await server?.close();
      await dev?.close();
      await roDev?.close();
      await cleanup?.();
    });

    it('garbage instead of a handshake: that connection is closed', async () => {
      const c = await RawClient.open(target);
      await c.reader.read(18);
      c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await c.closed(), true);
      await stillServes();
    });

    it('a bad option magic, an oversized option, unknown client flags: closed', async () => {
      const a = await RawClient.open(target);
      await a.greet();
      a.socket.write(Buffer.alloc(16, 0xee));
      assert.equal(await a.closed(), true);

      const b = await RawClient.open(target);
      await b.greet();
      const h = Buffer.alloc(16);
      h.writeBigUInt64BE(C.NBD_IHAVEOPT, 0);
      h.writeUInt32BE(C.NBD_OPT_GO, 8);
      h.writeUInt32BE(0xffffffff, 12);
      b.socket.write(h);
      assert.equal(await b.closed(), true);

      const d = await RawClient.open(target);
      await d.greet(0x80);
      assert.equal(await d.closed(), true);
      await stillServes();
    });

    it('random bytes at every stage never take the server down', async () => {
      const rnd = prng(1234);
      for (let i = 0; i < 20; i++) {
        const c = await RawClient.open(target);
        const stage = i % 3;
        if (stage >= 1) await c.greet();
        if (stage >= 2) assert.equal((await c.go('disk')).type, C.NBD_REP_ACK);
        c.socket.write(randomBytes(1 + Math.floor(rnd() * 200), rnd));
        c.socket.end();
        await c.closed();
      }
      await stillServes();
    });

    it('a client that connects and says nothing is dropped after the handshake timeout', async () => {
      const c = await RawClient.open(target);
      assert.equal(await c.closed(6000), true);
    });

    it('unknown export: NBD_OPT_GO gets NBD_REP_ERR_UNKNOWN and the client may retry', async () => {
      const c = await RawClient.open(target);
      await c.greet();
      const r = await c.go('nope');
      assert.equal(r.type, C.NBD_REP_ERR_UNKNOWN);
      assert.equal(r.infos.length, 0);
      const info = await c.go('disk', C.NBD_OPT_INFO);
      assert.equal(info.type, C.NBD_REP_ACK);
      const bs = info.infos.find((b) => b.readUInt16BE(0) === C.NBD_INFO_BLOCK_SIZE)!;
      assert.deepEqual([bs.readUInt32BE(2), bs.readUInt32BE(6), bs.readUInt32BE(10)], [1, 4096, 32 * MiB]);
      assert.equal(c.size, SIZE);
      const ok = await c.go('disk');
      assert.equal(ok.type, C.NBD_REP_ACK);
      assert.equal((await c.request(C.NBD_CMD_READ, 0, 0, 512)).error, 0);
      await c.disconnect();
    });

    it('NBD_OPT_EXPORT_NAME: known export gets size+flags (no zeroes); unknown closes', async () => {
      const c = await RawClient.open(target);
      await c.greet();
      c.sendOption(C.NBD_OPT_EXPORT_NAME, Buffer.from('disk'));
      const b = await c.reader.read(10);
      assert.equal(Number(b.readBigUInt64BE(0)), SIZE);
      const flags = b.readUInt16BE(8);
      assert.ok(flags & C.NBD_FLAG_HAS_FLAGS && flags & C.NBD_FLAG_SEND_FLUSH && flags & C.NBD_FLAG_SEND_WRITE_ZEROES);
      assert.equal((await c.request(C.NBD_CMD_READ, 0, 0, 16)).error, 0);
      await c.disconnect();

      // Without NBD_FLAG_C_NO_ZEROES: 124 bytes of zeroes follow.
      const z = await RawClient.open(target);
      await z.greet(C.NBD_FLAG_C_FIXED_NEWSTYLE);
      z.sendOption(C.NBD_OPT_EXPORT_NAME, Buffer.from('disk'));
      const zb = await z.reader.read(134);
      assert.ok(zb.subarray(10).every((x) => x === 0));
      assert.equal((await z.request(C.NBD_CMD_READ, 0, 0, 16)).error, 0);
      await z.disconnect();

      const u = await RawClient.open(target);
      await u.greet();
      u.sendOption(C.NBD_OPT_EXPORT_NAME, Buffer.from('nope'));
      assert.equal(await u.closed(), true);
      await stillServes();
    });

    it('NBD_OPT_LIST, unsupported options, malformed NBD_OPT_GO, NBD_OPT_ABORT', async () => {
      const c = await RawClient.open(target);
      await c.greet();
      c.sendOption(C.NBD_OPT_LIST);
      const names: string[] = [];
      for (;;) {
        const r = await c.optionReply();
        if (r.type !== C.NBD_REP_SERVER) {
          assert.equal(r.type, C.NBD_REP_ACK);
          break;
        }
        names.push(r.data.toString('utf8', 4, 4 + r.data.readUInt32BE(0)));
      }
      assert.deepEqual(names.sort(), ['disk', 'ro']);
      c.sendOption(C.NBD_OPT_LIST, Buffer.from('x'));
      assert.equal((await c.optionReply()).type, C.NBD_REP_ERR_INVALID);
      for (const opt of [C.NBD_OPT_STRUCTURED_REPLY, C.NBD_OPT_STARTTLS, C.NBD_OPT_SET_META_CONTEXT, 4242]) {
        c.sendOption(opt);
        const r = await c.optionReply();
        assert.equal(r.option, opt);
        assert.equal(r.type, C.NBD_REP_ERR_UNSUP);
      }
      const bad = Buffer.alloc(8);
      bad.writeUInt32BE(1000, 0); // name longer than the option
      c.sendOption(C.NBD_OPT_GO, bad);
      assert.equal((await c.optionReply()).type, C.NBD_REP_ERR_INVALID);
      c.sendOption(C.NBD_OPT_ABORT);
      assert.equal((await c.optionReply()).type, C.NBD_REP_ACK);
      assert.equal(await c.closed(), true);
    });

    it('requests beyond the end or of absurd length get EINVAL / ENOSPC, and the connection lives on', async () => {
      const c = await RawClient.connect(target, 'disk');
      const cases: [string, number, number, number | bigint, number, number][] = [
        ['read past end', C.NBD_CMD_READ, 0, SIZE - 512, 1024, C.NBD_EINVAL],
        ['read at end', C.NBD_CMD_READ, 0, SIZE, 1, C.NBD_EINVAL],
        ['read absurd length', C.NBD_CMD_READ, 0, 0, 0xffffffff, C.NBD_EINVAL],
        ['read above the payload cap', C.NBD_CMD_READ, 0, 0, 32 * MiB + 1, C.NBD_EINVAL],
        ['read absurd offset', C.NBD_CMD_READ, 0, 1n << 63n, 512, C.NBD_EINVAL],
        ['read offset 2^64-1', C.NBD_CMD_READ, 0, (1n << 64n) - 1n, 1, C.NBD_EINVAL],
        ['trim past end', C.NBD_CMD_TRIM, 0, SIZE - 4096, 8192, C.NBD_EINVAL],
        ['zero past end', C.NBD_CMD_WRITE_ZEROES, 0, SIZE, 4096, C.NBD_ENOSPC],
        ['zero absurd', C.NBD_CMD_WRITE_ZEROES, 0, 0, 0xffffffff, C.NBD_ENOSPC],
        ['unknown command', 42, 0, 0, 512, C.NBD_EINVAL],
        ['block status without meta context', C.NBD_CMD_BLOCK_STATUS, 0, 0, 512, C.NBD_EINVAL],
        ['read with DF (not advertised)', C.NBD_CMD_READ, C.NBD_CMD_FLAG_DF, 0, 512, C.NBD_EINVAL],
        ['zero with FAST_ZERO (not advertised)', C.NBD_CMD_WRITE_ZEROES, C.NBD_CMD_FLAG_FAST_ZERO, 0, 512, C.NBD_EINVAL],
        ['unknown flag', C.NBD_CMD_FLUSH, 0x8000, 0, 0, C.NBD_EINVAL],
      ];
      for (const [what, type, flags, off, len, want] of cases) {
        const r = await c.request(type, flags, off, len);
        assert.equal(r.error, want, what);
      }
      // A write past the end: its payload is consumed, ENOSPC, the stream stays in sync.
      const w = await c.request(C.NBD_CMD_WRITE, 0, SIZE - 512, 1024, Buffer.alloc(1024, 1));
      assert.equal(w.error, C.NBD_ENOSPC);
      const w2 = await c.request(C.NBD_CMD_WRITE, 0, 1n << 62n, 16, Buffer.alloc(16, 1));
      assert.equal(w2.error, C.NBD_ENOSPC);
      // Zero-length requests succeed without touching anything.
      assert.equal((await c.request(C.NBD_CMD_READ, 0, 0, 0)).error, 0);
      assert.equal((await c.request(C.NBD_CMD_WRITE, 0, 0, 0)).error, 0);
      // NBD_CMD_CACHE (sent by some clients unadvertised) is a no-op success.
      assert.equal((await c.request(C.NBD_CMD_CACHE, 0, 0, 4096)).error, 0);
      // Still in sync: an exact read at the very end works.
      const last = await c.request(C.NBD_CMD_READ, 0, SIZE - 512, 512);
      assert.equal(last.error, 0);
      assert.ok(last.data!.equals(original.subarray(SIZE - 512)));
      await c.disconnect();
      assert.ok((await readFile(diskPath)).equals(original), 'the device is unchanged');
    });

    it('a write with a payload above the cap gets EINVAL and the connection is dropped', async () => {
      const c = await RawClient.connect(target, 'disk');
      c.send(C.NBD_CMD_WRITE, 0, 0, 64 * MiB);
      c.socket.write(Buffer.alloc(4096, 0xcc)); // the start of a payload that will never be taken
      const r = await c.reply();
      assert.equal(r.error, C.NBD_EINVAL);
      assert.equal(await c.closed(), true);
      assert.ok((await readFile(diskPath)).equals(original), 'the device is unchanged');
      await stillServes();
    });

    it('a bad request magic drops that connection only', async () => {
      const other = await RawClient.connect(target, 'disk');
      const c = await RawClient.connect(target, 'disk');
      c.socket.write(Buffer.alloc(28, 0x42));
      assert.equal(await c.closed(), true);
      assert.equal((await other.request(C.NBD_CMD_READ, 0, 0, 4096)).error, 0);
      await other.disconnect();
    });

    it('a read-only export answers writes, zeroes and trims with EPERM', async () => {
      const c = await RawClient.connect(target, 'ro');
      assert.ok(c.flags & C.NBD_FLAG_READ_ONLY);
      assert.equal(c.flags & C.NBD_FLAG_SEND_TRIM, 0);
      assert.equal((await c.request(C.NBD_CMD_WRITE, 0, 0, 4096, Buffer.alloc(4096, 1))).error, C.NBD_EPERM);
      assert.equal((await c.request(C.NBD_CMD_WRITE, C.NBD_CMD_FLAG_FUA, 0, 4096, Buffer.alloc(4096, 1))).error, C.NBD_EPERM);
      assert.equal((await c.request(C.NBD_CMD_WRITE_ZEROES, 0, 0, 4096)).error, C.NBD_EPERM);
      assert.equal((await c.request(C.NBD_CMD_TRIM, 0, 0, 4096)).error, C.NBD_EPERM);
      assert.equal((await c.request(C.NBD_CMD_FLUSH, 0, 0, 0)).error, 0);
      const r = await c.request(C.NBD_CMD_READ, 0, 0, 4096);
      assert.equal(r.error, 0);
      assert.ok(r.data!.every((b) => b === 0x5a));
      await c.disconnect();
      assert.ok((await readFile(join(dir, 'ro.raw'))).every((b) => b === 0x5a));
    });

    it('a client that drops mid-WRITE payload changes nothing and harms no one', async () => {
      const before = await readFile(diskPath);
      const other = await RawClient.connect(target, 'disk');
      const c = await RawClient.connect(target, 'disk');
      // A complete write first, then half of the next one.
      const ok = await c.request(C.NBD_CMD_WRITE, 0, 0, 4096, Buffer.alloc(4096, 0x77));
      assert.equal(ok.error, 0);
      c.send(C.NBD_CMD_WRITE, 0, MiB, MiB);
      c.socket.write(Buffer.alloc(MiB / 2, 0x66));
      await new Promise((r) => setTimeout(r, 100));
      c.destroy();
      // Also: a client that drops mid-header.
      const h = await RawClient.connect(target, 'disk');
      h.socket.write(Buffer.alloc(10, 0x25));
      h.destroy();
      // The others carry on.
      const wr = await other.request(C.NBD_CMD_WRITE, C.NBD_CMD_FLAG_FUA, 2 * MiB, 4096, Buffer.alloc(4096, 0x55));
      assert.equal(wr.error, 0);
      const rd = await other.request(C.NBD_CMD_READ, 0, MiB, MiB);
      assert.ok(rd.data!.equals(before.subarray(MiB, 2 * MiB)));
      await other.disconnect();
      await stillServes();
      const after = await readFile(diskPath);
      const expected = Buffer.from(before);
      expected.fill(0x77, 0, 4096);
      expected.fill(0x55, 2 * MiB, 2 * MiB + 4096);
      assert.ok(after.equals(expected), 'only the complete writes reached the device');
      await writeFile(diskPath, original); // restore for later tests (same inode, same fd)
    });

    it('a client that pipelines many requests and vanishes does not upset the server', async () => {
      const c = await RawClient.connect(target, 'disk');
      for (let i = 0; i < 200; i++) c.send(C.NBD_CMD_READ, 0, (i % 64) * 65536, 65536);
      c.destroy();
      await stillServes();
    });

    it('pipelined requests all get their replies, matched by cookie', async () => {
      const c = await RawClient.connect(target, 'disk');
      const want = new Map<bigint, number>();
      for (let i = 0; i < 100; i++) {
        const type = i % 3 === 0 ? C.NBD_CMD_WRITE : i % 3 === 1 ? C.NBD_CMD_READ : C.NBD_CMD_FLUSH;
        const off = 4 * MiB + (i % 10) * 4096;
        const cookie = type === C.NBD_CMD_WRITE ? c.send(type, 0, off, 4096, Buffer.alloc(4096, i)) : c.send(type, 0, type === C.NBD_CMD_FLUSH ? 0 : off, type === C.NBD_CMD_FLUSH ? 0 : 4096);
        want.set(cookie, type === C.NBD_CMD_READ ? 4096 : 0);
      }
      // Replies may come in any order: read each header, then the data its cookie implies.
      const seen = new Set<bigint>();
      for (let i = 0; i < 100; i++) {
        const h = await c.reader.read(16);
        assert.equal(h.readUInt32BE(0), C.NBD_SIMPLE_REPLY_MAGIC);
        assert.equal(h.readUInt32BE(4), 0);
        const cookie = h.readBigUInt64BE(8);
        assert.ok(want.has(cookie) && !seen.has(cookie));
        seen.add(cookie);
        if (want.get(cookie)! > 0) await c.reader.read(want.get(cookie)!);
      }
      await c.disconnect();
      await writeFile(diskPath, original);
    });

    it('reports each request as an event (FUA, NO_HOLE, trim, flush as the client sent them)', async () => {
      const seen: NbdRequestInfo[] = [];
      const on = (i: NbdRequestInfo): void => void seen.push(i);
      server.on('request', on);
      try {
        await runOk('qemu-io', ['-f', 'raw', '-c', 'write -f -P 1 0 4096', '-c', 'write -z 8192 4096', '-c', 'write -z -u 16384 4096', '-c', 'discard 32768 4096', '-c', 'flush', server.urlFor('disk')]);
      } finally {
        server.off('request', on);
      }
      const find = (cmd: string, off: number): NbdRequestInfo | undefined => seen.find((s) => s.command === cmd && s.offset === off);
      assert.ok(find('write', 0)!.flags & C.NBD_CMD_FLAG_FUA);
      assert.ok(find('write-zeroes', 8192)!.flags & C.NBD_CMD_FLAG_NO_HOLE);
      assert.equal(find('write-zeroes', 16384)!.flags & C.NBD_CMD_FLAG_NO_HOLE, 0);
      assert.ok(find('trim', 32768));
      assert.ok(seen.some((s) => s.command === 'flush'));
      assert.ok(seen.every((s) => s.error === 0));
      await writeFile(diskPath, original);
    });

    it('records why connections ended', () => {
      assert.ok(disconnects.some((d) => d.reason === 'handshake-failed'));
      assert.ok(disconnects.some((d) => d.reason === 'handshake-aborted'));
      assert.ok(disconnects.some((d) => d.reason === 'protocol-error'));
      assert.ok(disconnects.some((d) => d.reason === 'peer-gone'));
      assert.ok(disconnects.some((d) => d.reason === 'disconnect'));
    });

    // Only registered for the unix-socket transport (no skipped test in the TCP pass).
    if (transport === 'unix') {
      it('refuses to start on a live socket or a non-socket path', async function () {
        await assert.rejects(startNbdServer({ exports: new Map(), socketPath: server.socketPath! }), /another server/);
        await assert.rejects(startNbdServer({ exports: new Map(), socketPath: diskPath }), /not a socket/);
      });
    }
  });
}

describe('nbd server close()', function () {
  this.timeout(30_000);
  it('ends connections gracefully: completed writes stay, handshakes and sessions close, the socket file goes', async () => {
    const { dir, cleanup } = await tmpDirWithCleanup();
    try {
      const path = join(dir, 'd.raw');
      const dev = await FileBlockDevice.open(path, { size: MiB });
      const server = await startNbdServer({ exports: new Map([['d', dev]]), socketPath: join(dir, 's') });
      const c = await RawClient.connect({ path: server.socketPath! }, 'd');
      const h = await RawClient.open({ path: server.socketPath! });
      await h.greet();
      assert.equal((await c.request(C.NBD_CMD_WRITE, 0, 0, 4096, Buffer.alloc(4096, 9))).error, 0);
      const closing = server.close();
      assert.equal(await c.closed(), true);
      assert.equal(await h.closed(), true);
      await closing;
      await assert.rejects(RawClient.open({ path: join(dir, 's') }));
      assert.equal((await readFile(path))[0], 9);
      await dev.close();
      // A new server may reuse the socket path.
      const dev2 = await FileBlockDevice.open(path);
      const s2 = await startNbdServer({ exports: new Map([['d', dev2]]), socketPath: join(dir, 's') });
      await s2.close();
      await dev2.close();
    } finally {
      await cleanup();
    }
  });

  it('a TCP server on port 0 binds 127.0.0.1 on an ephemeral port', async () => {
    const dev = { size: 4096, readOnly: true, read: async (_o: number, l: number) => Buffer.alloc(l, 3), write: async () => {}, writeZeroes: async () => {}, trim: async () => {}, flush: async () => {} };
    const server = await startNbdServer({ exports: (n) => (n === 'x' ? dev : undefined), defaultExport: 'x', port: 0 });
    try {
      assert.equal(server.host, '127.0.0.1');
      assert.ok(server.port! > 0);
      assert.equal(server.address, `nbd://127.0.0.1:${server.port}/x`);
      // The default export "" maps to 'x'; a device without readInto goes through read().
      const r = await runOk('nbdinfo', ['--size', server.address]);
      assert.equal(r.stdout.trim(), '4096');
      const c = await RawClient.connect({ host: '127.0.0.1', port: server.port! }, '');
      const rd = await c.request(C.NBD_CMD_READ, 0, 100, 200);
      assert.ok(rd.data!.every((b) => b === 3) && rd.data!.length === 200);
      await c.disconnect();
      const s = net.connect(server.port!, '127.0.0.1');
      await new Promise((res) => s.once('connect', res));
      s.destroy();
    } finally {
      await server.close();
    }
  });
});
