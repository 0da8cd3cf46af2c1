/**
 * The addon's socket pump on a real unix socket: the batches it hands over follow each
 * other in the region and equal the bytes sent, the end of the stream and stop() behave
 * as documented, and bad arguments are refused before any thread touches memory.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { createSocketPump, socketPumpAvailable, type SocketPump } from '../../src/native/socket-pump.js';
import { tmpDir } from '../helpers/tmp.js';

interface Pair {
  client: net.Socket;
  server: net.Socket;
  fd: number;
  close(): Promise<void>;
}

async function socketPair(): Promise<Pair> {
  const dir = tmpDir('ttj-pump-');
  const path = join(dir, 's.sock');
  // Paused on connect: Node never starts reading the server side, the pump reads it alone.
  const srv = net.createServer({ pauseOnConnect: true });
  const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
  await new Promise<void>((resolve) => srv.listen(path, resolve));
  const client = net.connect(path);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const server = await accepted;
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return {
    client,
    server,
    fd,
    async close() {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Collects callbacks until `done(events)` says the read is over. */
function collect(): { events: { err: (Error & { code?: string }) | null; n: number }[]; cb: (err: (Error & { code?: string }) | null, n?: number) => void; next: () => Promise<void> } {
  const events: { err: (Error & { code?: string }) | null; n: number }[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    cb: (err, n) => {
      events.push({ err, n: n ?? 0 });
      wake?.();
    },
    next: () => new Promise<void>((resolve) => (wake = resolve)),
  };
}

describe('native socket pump', function () {
  this.timeout(30_000);

  before(function () {
    // Built by npm ci (and npm run build:native): its absence is a failure, not a skip.
    assert.ok(socketPumpAvailable() || process.env.TTJ_NBD_RECEIVE === 'node', 'the native addon has no socket pump: run npm run build:native');
  });

  it('hands over every batch in order until the region is full, then waits for the next read', async () => {
    const p = await socketPair();
    const c = collect();
    const pump = createSocketPump(p.fd, c.cb);
    try {
      const sent = randomBytes(3 * 1024 * 1024 + 17);
      const region = Buffer.alloc(2 * 1024 * 1024);
      pump.read(region, 0, region.length);
      // Sent in pieces with pauses: the pump hands over several batches for one read.
      for (let at = 0; at < sent.length; at += 256 * 1024) {
        p.client.write(sent.subarray(at, Math.min(sent.length, at + 256 * 1024)));
        await new Promise((r) => setTimeout(r, 2));
      }
      let got = 0;
      while (got < region.length) {
        if (c.events.length === 0) await c.next();
        const e = c.events.shift()!;
        assert.equal(e.err, null);
        assert.ok(e.n > 0);
        got += e.n;
      }
      assert.equal(got, region.length, 'batches never overrun the region');
      assert.ok(region.equals(sent.subarray(0, region.length)));
      // The rest goes to the next read, at an offset inside another buffer.
      const rest = Buffer.alloc(sent.length - region.length + 100);
      pump.read(rest, 100, sent.length - region.length);
      got = 0;
      while (got < sent.length - region.length) {
        if (c.events.length === 0) await c.next();
        got += c.events.shift()!.n;
      }
      assert.ok(rest.subarray(100).equals(sent.subarray(region.length)));
      // The end of the stream ends a read with 0.
      const more = Buffer.alloc(4096);
      pump.read(more, 0, more.length);
      p.client.end();
      if (c.events.length === 0) await c.next();
      assert.deepEqual(c.events.shift(), { err: null, n: 0 });
    } finally {
      pump.stop();
      await p.close();
    }
  });

  it('stop() drops a read in progress: no callback runs after it, and stopping twice is fine', async () => {
    const p = await socketPair();
    const c = collect();
    const pump: SocketPump = createSocketPump(p.fd, c.cb);
    pump.read(Buffer.alloc(1024), 0, 1024);
    pump.stop();
    pump.stop();
    p.client.write(Buffer.alloc(1024, 1));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.events.length, 0);
    assert.throws(() => pump.read(Buffer.alloc(16), 0, 16), /stopped/);
    await p.close();
  });

  it('refuses bad arguments before any read starts', async () => {
    assert.throws(() => createSocketPump(-1, () => undefined), TypeError);
    assert.throws(() => createSocketPump(1.5, () => undefined), TypeError);
    assert.throws(() => createSocketPump(0, 'x' as unknown as () => void), TypeError);
    const p = await socketPair();
    const pump = createSocketPump(p.fd, () => undefined);
    try {
      const buf = Buffer.alloc(64);
      assert.throws(() => pump.read(buf, 60, 8), RangeError);
      assert.throws(() => pump.read(buf, 0, 0), RangeError);
      assert.throws(() => pump.read(new Uint16Array(8) as unknown as Uint8Array, 0, 8), TypeError);
      pump.read(buf, 0, 64);
      assert.throws(() => pump.read(buf, 0, 64), /already in progress/);
    } finally {
      pump.stop();
      await p.close();
    }
  });
});
