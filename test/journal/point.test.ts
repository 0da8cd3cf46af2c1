import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { parsePoint } from '../../src/journal/point.js';

const badPoint = (text: string) => (e: unknown) => isTtjError(e, ErrorCodes.BAD_POINT) && e.details.point === text;

describe('parsePoint: the POINT syntax', function () {
  it('reads head, epoch:N, frame:N and seq:N', () => {
    assert.deepEqual(parsePoint('head'), { kind: 'head' });
    assert.deepEqual(parsePoint('epoch:0'), { kind: 'epoch', n: 0 });
    assert.deepEqual(parsePoint('frame:17'), { kind: 'frame', n: 17 });
    assert.deepEqual(parsePoint('seq:123456'), { kind: 'seq', n: 123456 });
  });

  it('reads time:ISO-8601 as the last microsecond of that millisecond, keeping the text', () => {
    const p = parsePoint('time:2026-01-02T03:04:05.678Z');
    assert.deepEqual(p, { kind: 'time', us: Date.parse('2026-01-02T03:04:05.678Z') * 1000 + 999, text: '2026-01-02T03:04:05.678Z' });
  });

  it('reads label:TEXT with everything after the first colon, colons included', () => {
    assert.deepEqual(parsePoint('label:before upgrade'), { kind: 'label', text: 'before upgrade' });
    assert.deepEqual(parsePoint('label:a:b'), { kind: 'label', text: 'a:b' });
  });

  it('refuses a number that is not a plain non-negative integer, or is too large, with BAD_POINT', () => {
    for (const p of ['epoch:', 'epoch:-1', 'epoch:1.5', 'frame:x', 'seq: 1', 'seq:1e3', 'seq:0x10', `seq:${2 ** 53}`]) {
      assert.throws(() => parsePoint(p), badPoint(p), p);
    }
    assert.deepEqual(parsePoint(`seq:${2 ** 53 - 1}`), { kind: 'seq', n: 2 ** 53 - 1 });
  });

  it('refuses a time that is not ISO-8601 and an empty label with BAD_POINT', () => {
    for (const p of ['time:', 'time:yesterday', 'time:1767225600', 'time:2026-13-45T00:00:00Z', 'label:']) {
      assert.throws(() => parsePoint(p), badPoint(p), p);
    }
  });

  it('refuses unknown kinds, missing kinds and other spellings with BAD_POINT', () => {
    for (const p of ['', 'HEAD', 'head:', 'tail', ':3', '3', 'epoch', 'Epoch:1', 'position:3']) {
      assert.throws(() => parsePoint(p), badPoint(p), JSON.stringify(p));
    }
  });
});
