import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { parseDuration, parseOffset, parseSize } from '../../src/cli/units.js';

const badArgument = (e: unknown) => isTtjError(e, ErrorCodes.BAD_ARGUMENT);

describe('DURATION and SIZE arguments', function () {
  it('parseDuration: ms, s, m, h, d, w and plain seconds, in milliseconds', () => {
    assert.equal(parseDuration('500ms', 'interval'), 500);
    assert.equal(parseDuration('2s', 'interval'), 2000);
    assert.equal(parseDuration('2', 'interval'), 2000);
    assert.equal(parseDuration('1.5m', 'duration'), 90_000);
    assert.equal(parseDuration('1h', 'duration'), 3_600_000);
    assert.equal(parseDuration('7d', 'keep-within'), 7 * 86_400_000);
    assert.equal(parseDuration('2w', 'keep-within'), 14 * 86_400_000);
    assert.equal(parseDuration(' 250ms ', 'interval'), 250, 'surrounding blanks are ignored');
    assert.equal(parseDuration('0.0004s', 'interval'), 0, 'rounded to whole milliseconds');
  });

  it('parseDuration: anything else is BAD_ARGUMENT naming the flag', () => {
    for (const s of ['', 'ms', '-1s', '2 s', '2S', '1D', '1y', '1.s', '.5s', '1e3', 'fast']) {
      assert.throws(
        () => parseDuration(s, 'interval'),
        (e) => badArgument(e) && /--interval/.test((e as Error).message),
        JSON.stringify(s),
      );
    }
  });

  it('parseSize: K, M, G, T (powers of 1024, any case, with i and B) and plain bytes', () => {
    assert.equal(parseSize('4096', 'memory'), 4096);
    assert.equal(parseSize('64K', 'memory'), 64 * 1024);
    assert.equal(parseSize('64M', 'memory'), 64 * 1024 * 1024);
    assert.equal(parseSize('256m', 'memory'), 256 * 1024 * 1024);
    assert.equal(parseSize('1G', 'memory'), 1024 ** 3);
    assert.equal(parseSize('1GiB', 'memory'), 1024 ** 3);
    assert.equal(parseSize('2MB', 'memory'), 2 * 1024 * 1024);
    assert.equal(parseSize('1T', 'memory'), 1024 ** 4);
  });

  it('parseSize: fractions, negative numbers, unknown units and words are BAD_ARGUMENT naming the flag', () => {
    for (const s of ['', 'M', '1.5G', '-1M', '1P', '1 M', '1MiBB', 'big']) {
      assert.throws(
        () => parseSize(s, 'memory'),
        (e) => badArgument(e) && /--memory/.test((e as Error).message),
        JSON.stringify(s),
      );
    }
  });

  it('parseOffset: decimal, 0x hex or a SIZE; anything else is BAD_ARGUMENT naming the flag', () => {
    assert.equal(parseOffset('4096', 'offset'), 4096);
    assert.equal(parseOffset('0x1F008', 'phys'), 0x1f008);
    assert.equal(parseOffset('64K', 'offset'), 65536);
    for (const s of ['', '0x', '0xg1', '-1', '1.5', 'x', `0x${'f'.repeat(16)}`]) {
      assert.throws(
        () => parseOffset(s, 'offset'),
        (e) => badArgument(e) && /--offset/.test((e as Error).message),
        JSON.stringify(s),
      );
    }
  });
});
