/**
 * The NBD server against real clients: qemu-img, qemu-io (qemu-utils), nbdinfo and nbdcopy
 * (libnbd-bin), over a unix socket and over TCP, serving a real raw file.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockDevice } from '../../../src/capture/nbd/file-block-device.js';
import { startNbdServer, type NbdServer } from '../../../src/capture/nbd/server.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { run, runOk } from '../../helpers/run-process.js';
import { tmpDirWithCleanup } from '../../helpers/tmp.js';

const SIZE = 32 * 1024 * 1024;
const MiB = 1024 * 1024;

for (const transport of ['unix', 'tcp'] as const) {
  describe(`nbd server with real clients (${transport}) @slow`, function () {
    this.timeout(120_000);
    let dir: string;
    let cleanup: () => Promise<void>;
    let server: NbdServer;
    let dev: FileBlockDevice;
    let roDev: FileBlockDevice;
    let diskPath: string;
    let src: Buffer;
    let url: string;

    before(async () => {
      ({ dir, cleanup } = await tmpDirWithCleanup());
      diskPath = join(dir, 'disk.raw');
      dev = await FileBlockDevice.open(diskPath, { size: SIZE });
      const roPath = join(dir, 'ro.raw');
      await writeFile(roPath, Buffer.alloc(1 * MiB, 0x5a));
      roDev = await FileBlockDevice.open(roPath, { readOnly: true });
      server = await startNbdServer({
        exports: new Map([
          ['disk', dev],
          ['ro', roDev],
        ]),
        ...(transport === 'unix' ? { socketPath: join(dir, 'nbd.sock') } : { port: 0 }),
      });
      url = server.urlFor('disk');
      src = randomBytes(SIZE, prng(transport === 'unix' ? 1 : 2));
      await writeFile(join(dir, 'src.raw'), src);
    });

    after(async () => {
      await server?.close();
      await dev?.close();
      await roDev?.close();
      await cleanup?.();
    });

    it('has a URL of the right form', () => {
      if (transport === 'unix') assert.equal(url, `nbd+unix:///disk?socket=${join(dir, 'nbd.sock')}`);
      else assert.match(url, /^nbd:\/\/127\.0\.0\.1:\d+\/disk$/);
      assert.ok(server.port === undefined || server.port > 0);
    });

    it('qemu-img info sees a raw disk of the right size', async () => {
      const r = await runOk('qemu-img', ['info', '--output=json', url]);
      const info = JSON.parse(r.stdout) as { 'virtual-size': number; format: string };
      assert.equal(info['virtual-size'], SIZE);
      assert.equal(info.format, 'raw');
    });

    it('qemu-img convert file → nbd writes every byte', async () => {
      await runOk('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', join(dir, 'src.raw'), url]);
      assert.ok((await readFile(diskPath)).equals(src), 'disk file equals the source');
    });

    it('qemu-img convert nbd → file reads every byte', async () => {
      const out = join(dir, 'out-qemu.raw');
      await runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url, out]);
      assert.ok((await readFile(out)).equals(await readFile(diskPath)));
    });

    it('qemu-io write -P / write -z / discard / flush / write -f, verified with read -P', async () => {
      const r = await runOk('qemu-io', [
        '-f',
        'raw',
        '-c',
        'write -P 0xab 0 1M',
        '-c',
        'read -P 0xab 0 1M',
        '-c',
        'write -z 4096 8192',
        '-c',
        'read -P 0 4096 8192',
        '-c',
        'read -P 0xab 12288 4096',
        '-c',
        'write -z -u 65536 65536',
        '-c',
        'read -P 0 65536 65536',
        '-c',
        'discard 131072 65536',
        '-c',
        'read -P 0 131072 65536',
        '-c',
        'flush',
        '-c',
        'write -f -P 0x11 2M 64k',
        '-c',
        'read -P 0x11 2M 64k',
        '-c',
        'write -P 0x22 3M 1',
        '-c',
        'read -P 0x22 3M 1',
        url,
      ]);
      assert.doesNotMatch(r.stdout + r.stderr, /fail|error/i);
      const disk = await readFile(diskPath);
      assert.ok(disk.subarray(0, 4096).every((b) => b === 0xab));
      assert.ok(disk.subarray(4096, 12288).every((b) => b === 0));
      assert.ok(disk.subarray(12288, 65536).every((b) => b === 0xab));
      assert.ok(disk.subarray(65536, 196608).every((b) => b === 0));
      assert.ok(disk.subarray(196608, MiB).every((b) => b === 0xab));
      assert.ok(disk.subarray(1 * MiB, 2 * MiB).equals(src.subarray(1 * MiB, 2 * MiB)));
      assert.ok(disk.subarray(2 * MiB, 2 * MiB + 65536).every((b) => b === 0x11));
      assert.equal(disk[3 * MiB], 0x22);
      assert.equal(disk[3 * MiB + 1], src[3 * MiB + 1]);
    });

    it('qemu-io read -P notices a wrong pattern (the verification is real)', async () => {
      const r = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x99 0 4096', url]);
      assert.match(r.stdout + r.stderr, /Pattern verification failed/);
    });

    it('nbdinfo --list lists the exports; nbdinfo --size and --json report the size', async () => {
      const base = transport === 'unix' ? server.urlFor('') : server.urlFor('');
      const list = await runOk('nbdinfo', ['--list', '--json', base]);
      const names = (JSON.parse(list.stdout) as { exports: { 'export-name': string }[] }).exports.map((e) => e['export-name']);
      assert.deepEqual(names.sort(), ['disk', 'ro']);
      const size = await runOk('nbdinfo', ['--size', url]);
      assert.equal(size.stdout.trim(), String(SIZE));
      const json = JSON.parse((await runOk('nbdinfo', ['--json', url])).stdout) as {
        exports: { 'export-size': number; is_read_only: boolean; can_flush: boolean; can_fua: boolean; can_trim: boolean; can_zero: boolean; block_size_maximum: number }[];
      };
      const e = json.exports[0];
      assert.equal(e['export-size'], SIZE);
      assert.equal(e.is_read_only, false);
      assert.ok(e.can_flush && e.can_fua && e.can_trim && e.can_zero);
      assert.equal(e.block_size_maximum, 32 * MiB);
    });

    it('nbdcopy file → nbd and nbd → file copy every byte', async () => {
      const other = randomBytes(SIZE, prng(99));
      await writeFile(join(dir, 'src2.raw'), other);
      await runOk('nbdcopy', [join(dir, 'src2.raw'), url]);
      assert.ok((await readFile(diskPath)).equals(other));
      const out = join(dir, 'out-nbdcopy.raw');
      await runOk('nbdcopy', [url, out]);
      assert.ok((await readFile(out)).equals(other));
    });

    it('a read-only export reads but refuses writes', async () => {
      const ro = server.urlFor('ro');
      const json = JSON.parse((await runOk('nbdinfo', ['--json', ro])).stdout) as { exports: { is_read_only: boolean; 'export-size': number }[] };
      assert.equal(json.exports[0].is_read_only, true);
      assert.equal(json.exports[0]['export-size'], MiB);
      const r = await runOk('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x5a 0 1M', ro]);
      assert.doesNotMatch(r.stdout + r.stderr, /fail/i);
      const w = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 1 0 4096', ro]);
      assert.match(w.stdout + w.stderr, /read-only|Operation not permitted|Permission denied/i);
      assert.ok((await readFile(join(dir, 'ro.raw'))).every((b) => b === 0x5a));
    });

    it('an unknown export fails the client, and the server keeps serving', async () => {
      const bad = server.urlFor('no-such-disk');
      const r1 = await run('qemu-img', ['info', bad]);
      assert.notEqual(r1.code, 0);
      const r2 = await run('nbdinfo', [bad]);
      assert.notEqual(r2.code, 0);
      assert.match(r2.stderr, /unknown|not available|export/i);
      const ok = await runOk('nbdinfo', ['--size', url]);
      assert.equal(ok.stdout.trim(), String(SIZE));
    });
  });
}
