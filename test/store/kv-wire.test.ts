import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { MAX_FRAME, encodeFrame, frameReader, packValues, readerSocketName, unpackValues } from '../../src/store/kv-wire.js';
import { useTmp } from '../helpers/tmp.js';

interface Got {
  frames: { header: Record<string, unknown>; payload: Buffer }[];
  errors: Error[];
  socket: Socket;
}

/** A frame reader on a socket that is never connected: the test delivers its bytes. */
function reader(): Got {
  const socket = new Socket();
  const got: Got = { frames: [], errors: [], socket };
  frameReader(
    socket,
    (header, payload) => got.frames.push({ header, payload: Buffer.from(payload) }),
    (e) => got.errors.push(e),
  );
  return got;
}

describe('kv-wire: the reader protocol framing', function () {
  it('a frame is u32 length | u32 header length | JSON header | payload, little-endian', () => {
    const bytes = Buffer.concat(encodeFrame({ op: 'get', id: 7 }, [Buffer.from('ab'), Buffer.from('cde')]));
    const header = Buffer.from(JSON.stringify({ op: 'get', id: 7 }));
    assert.equal(bytes.readUInt32LE(0), 4 + header.length + 5);
    assert.equal(bytes.readUInt32LE(4), header.length);
    assert.ok(bytes.subarray(8, 8 + header.length).equals(header));
    assert.equal(bytes.subarray(8 + header.length).toString(), 'abcde');
    assert.equal(bytes.length, 4 + bytes.readUInt32LE(0));
  });

  it('frames come out whole and in order however the stream is cut', () => {
    const sent = [
      { header: { op: 'put', id: 1 }, payload: [Buffer.from('value one')] },
      { header: { op: 'ping' }, payload: [] },
      { header: { op: 'big', id: 3 }, payload: [Buffer.alloc(5000, 7), Buffer.from('tail')] },
    ];
    const stream = Buffer.concat(sent.flatMap((f) => encodeFrame(f.header, f.payload)));
    for (const step of [1, 3, 8, 1000, stream.length]) {
      const got = reader();
      for (let at = 0; at < stream.length; at += step) got.socket.emit('data', stream.subarray(at, at + step));
      assert.deepEqual(got.errors, []);
      assert.deepEqual(
        got.frames.map((f) => f.header),
        sent.map((f) => f.header),
        `cut every ${step} bytes`,
      );
      got.frames.forEach((f, i) => assert.ok(f.payload.equals(Buffer.concat(sent[i]!.payload)), `payload ${i}, cut every ${step}`));
    }
  });

  it('a length beyond MAX_FRAME or below 4, or a header that is not JSON, is an error and the connection is dropped', () => {
    const tooBig = Buffer.alloc(8);
    tooBig.writeUInt32LE(MAX_FRAME + 1, 0);
    const tooSmall = Buffer.alloc(8);
    tooSmall.writeUInt32LE(3, 0);
    const notJson = Buffer.alloc(8 + 3);
    notJson.writeUInt32LE(4 + 3, 0);
    notJson.writeUInt32LE(3, 4);
    notJson.write('{x:', 8);
    for (const [what, bytes] of [
      ['too big', tooBig],
      ['too small', tooSmall],
      ['not JSON', notJson],
    ] as const) {
      const got = reader();
      got.socket.emit('data', bytes);
      assert.equal(got.errors.length, 1, what);
      assert.equal(got.frames.length, 0, what);
      assert.equal(got.socket.destroyed, true, what);
    }
  });

  it('packValues / unpackValues keep missing values apart from empty ones', () => {
    const values = [Buffer.from('a'), undefined, Buffer.alloc(0), Buffer.from('xyz'), undefined];
    const { lens, payload } = packValues(values);
    assert.deepEqual(lens, [1, -1, 0, 3, -1]);
    const back = unpackValues(lens, Buffer.concat(payload));
    assert.deepEqual(
      back.map((v) => v?.toString()),
      ['a', undefined, '', 'xyz', undefined],
    );
  });

  describe('readerSocketName', function () {
    const tmp = useTmp();
    it('is an abstract socket name that is the same for every spelling of a journal path and differs between journals', () => {
      const name = readerSocketName(tmp.path('j'));
      assert.ok(name.startsWith('\0ttj-index-'));
      assert.equal(readerSocketName(tmp.path('x', '..', 'j')), name);
      assert.equal(readerSocketName(tmp.path('j') + '/'), name);
      assert.notEqual(readerSocketName(tmp.path('k')), name);
    });
  });
});
