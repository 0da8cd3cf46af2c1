import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { PeerGoneError, SocketReader } from '../../../src/capture/nbd/socket-reader.js';

/** A socket that is never connected: the test delivers its bytes (as Node would, in chunks of any size) and its end. */
function fakePeer(highWater?: number): { socket: Socket; reader: SocketReader; send(...chunks: Buffer[]): void } {
  const socket = new Socket();
  const reader = new SocketReader(socket, highWater);
  return { socket, reader, send: (...chunks) => chunks.forEach((c) => socket.emit('data', c)) };
}

/** The 28-byte NBD request header for a read of `length` at `offset`, cookie `cookie`. */
function requestHeader(cookie: number, offset: number, length: number): Buffer {
  const h = Buffer.alloc(28);
  h.writeUInt32BE(0x25609513, 0);
  h.writeBigUInt64BE(BigInt(cookie), 8);
  h.writeBigUInt64BE(BigInt(offset), 16);
  h.writeUInt32BE(length, 24);
  return h;
}

describe('SocketReader: exact byte counts out of the chunks a socket delivers', function () {
  it('request headers split anywhere across chunks, or several in one chunk, come out whole and in order', async () => {
    const headers = Array.from({ length: 6 }, (_, i) => requestHeader(i + 1, i * 4096, 512 * (i + 1)));
    const stream = Buffer.concat(headers);
    for (const cuts of [[1], [27], [28], [5, 33, 60], [100], [stream.length - 1]]) {
      const { reader, send } = fakePeer();
      let at = 0;
      for (const c of [...cuts, stream.length]) {
        send(stream.subarray(at, c));
        at = c;
      }
      for (const h of headers) assert.ok((await reader.read(28)).equals(h), `cuts ${cuts}`);
      assert.equal(reader.buffered, 0);
    }
  });

  it('tryRead gives nothing until all the bytes are there, and does not consume them meanwhile', () => {
    const { reader, send } = fakePeer();
    send(Buffer.from('abc'));
    assert.equal(reader.tryRead(5), undefined);
    assert.equal(reader.buffered, 3);
    send(Buffer.from('defg'));
    assert.equal(reader.tryRead(5)!.toString(), 'abcde');
    assert.equal(reader.tryRead(2)!.toString(), 'fg');
    assert.equal(reader.tryRead(1), undefined);
  });

  it('a read inside one chunk is a view of it (no copy); a read across chunks is one buffer of the exact size', () => {
    const { reader, send } = fakePeer();
    const a = Buffer.from('0123456789');
    const b = Buffer.from('abcdef');
    send(a, b);
    const inside = reader.tryRead(4)!;
    assert.equal(inside.buffer, a.buffer, 'a view of the chunk');
    assert.equal(inside.toString(), '0123');
    const across = reader.tryRead(8)!;
    assert.equal(across.length, 8);
    assert.equal(across.toString(), '456789ab');
  });

  it('tryReadChunks hands out views of the chunks that add up to exactly n bytes', () => {
    const { reader, send } = fakePeer();
    send(Buffer.from('hello '), Buffer.from('nbd '), Buffer.from('world'));
    const views = reader.tryReadChunks(12)!;
    assert.deepEqual(
      views.map((v) => v.toString()),
      ['hello ', 'nbd ', 'wo'],
    );
    for (const v of views) reader.release(v);
    assert.equal(reader.tryRead(3)!.toString(), 'rld');
  });

  it('a waiting read resolves when its last byte arrives; a second read at the same time is refused', async () => {
    const { reader, send } = fakePeer();
    const p = reader.read(6);
    await assert.rejects(reader.read(1), /concurrent/);
    send(Buffer.from('abc'));
    send(Buffer.from('defXY'));
    assert.equal((await p).toString(), 'abcdef');
    assert.equal(reader.buffered, 2);
  });

  it('the peer going away rejects the waiting read and every later one with PeerGoneError, even with some bytes buffered', async () => {
    const { socket, reader, send } = fakePeer();
    const p = reader.read(28);
    send(Buffer.alloc(10));
    socket.emit('end');
    await assert.rejects(p, PeerGoneError);
    assert.equal(reader.ended, true);
    await assert.rejects(reader.read(28), PeerGoneError);
    assert.equal((await reader.read(10)).length, 10, 'what did arrive can still be read');
  });

  it('pauses the socket above the high-water mark and resumes it once read below', async () => {
    const { socket, reader, send } = fakePeer(16);
    send(Buffer.alloc(10));
    assert.equal(socket.isPaused(), false);
    send(Buffer.alloc(10));
    assert.equal(socket.isPaused(), true, '20 bytes buffered > 16');
    await reader.read(20);
    assert.equal(socket.isPaused(), false);
  });
});
