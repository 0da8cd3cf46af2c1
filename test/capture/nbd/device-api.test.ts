/**
 * The BlockDevice contract as the server uses it: a minimal device without the optional
 * fast paths (readInto, writev) served to real clients, and the bench function's shape.
 */
import assert from 'node:assert/strict';
import type { BlockDevice } from '../../../src/capture/nbd/block-device.js';
import { startNbdServer } from '../../../src/capture/nbd/server.js';
import { runOk } from '../../helpers/run-process.js';

/** An in-memory device that records the order of calls and resolves writes late. */
class SlowMemoryDevice implements BlockDevice {
  readonly readOnly = false;
  readonly calls: string[] = [];
  constructor(readonly data: Buffer) {}
  get size(): number {
    return this.data.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    return Buffer.from(this.data.subarray(offset, offset + length));
  }
  async write(offset: number, data: Buffer, opts: { fua: boolean }): Promise<void> {
    this.calls.push(`write ${offset} ${data.length}${opts.fua ? ' fua' : ''}`);
    await new Promise((r) => setTimeout(r, 1));
    data.copy(this.data, offset);
  }
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.calls.push(`zero ${offset} ${length}`);
    this.data.fill(0, offset, offset + length);
  }
  async trim(offset: number, length: number): Promise<void> {
    this.calls.push(`trim ${offset} ${length}`);
  }
  async flush(): Promise<void> {
    this.calls.push('flush');
  }
}

describe('nbd server with a device without fast paths', function () {
  this.timeout(60_000);
  it('serves read/write through read() and write(), acknowledging only after write() resolves', async () => {
    const dev = new SlowMemoryDevice(Buffer.alloc(4 * 1024 * 1024, 0x33));
    const acked: string[] = [];
    const server = await startNbdServer({ exports: (n) => (n === 'm' ? dev : undefined), port: 0 });
    server.on('request', (r) => {
      // When the reply is queued, the device must already hold the data.
      if (r.command === 'write' && r.error === 0) {
        assert.ok(dev.data.subarray(r.offset, r.offset + r.length).every((b) => b === 0xa1 || b === 0xa2));
        acked.push(`${r.offset}`);
      }
    });
    try {
      const r = await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 0xa1 0 3M', '-c', 'write -f -P 0xa2 3M 1M', '-c', 'read -P 0xa1 0 3M', '-c', 'read -P 0xa2 3M 1M', server.urlFor('m')]);
      assert.doesNotMatch(r.stdout + r.stderr, /fail|error/i);
      assert.ok(dev.data.subarray(0, 3 * 1024 * 1024).every((b) => b === 0xa1));
      assert.ok(acked.length >= 2);
      assert.ok(dev.calls.some((c) => c.endsWith('fua')));
    } finally {
      await server.close();
    }
  });
});
