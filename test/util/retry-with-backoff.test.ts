import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError, TtjError } from '../../src/errors.js';
import { retryWithBackoff, TryAgain } from '../../src/util/retry-with-backoff.js';

const timedOut = (): never => {
  throw new TtjError(ErrorCodes.LOCKED, 'timed out');
};

describe('retryWithBackoff', () => {
  it('tries again after doubling pauses until a try returns, and returns that', async () => {
    const at: number[] = [];
    const r = await retryWithBackoff(
      async () => {
        at.push(Date.now());
        return at.length < 4 ? new TryAgain() : 'done';
      },
      { waitMs: 10_000, firstDelayMs: 20, maxDelayMs: 40, onTimeout: timedOut },
    );
    assert.equal(r, 'done');
    assert.equal(at.length, 4);
    const pauses = at.slice(1).map((t, i) => t - at[i]!);
    // 20, 40, then the cap (40); timers fire late, never early (a millisecond of rounding allowed).
    [20, 40, 40].forEach((min, i) => assert.ok(pauses[i]! >= min - 1, `pause ${i} was ${pauses[i]} ms, at least ${min} expected`));
  });

  it('gives up through onTimeout once the wait is over, and not before', async () => {
    let tries = 0;
    const start = Date.now();
    await assert.rejects(
      retryWithBackoff(
        async () => {
          tries++;
          return new TryAgain();
        },
        { waitMs: 100, maxDelayMs: 20, onTimeout: timedOut },
      ),
      (e) => isTtjError(e, ErrorCodes.LOCKED),
    );
    assert.ok(Date.now() - start >= 100, 'waited the whole wait');
    assert.ok(tries >= 3, `tried ${tries} times`);
  });

  it('a try that asks for a given pause is tried again after it, even past the deadline', async () => {
    let tries = 0;
    const r = await retryWithBackoff(
      async () => {
        tries++;
        return tries < 3 ? new TryAgain(5) : tries;
      },
      { waitMs: 0, maxDelayMs: 20, onTimeout: timedOut },
    );
    assert.equal(r, 3);
  });

  it('what a try throws ends the wait at once', async () => {
    let tries = 0;
    await assert.rejects(
      retryWithBackoff(
        async () => {
          tries++;
          throw new TtjError(ErrorCodes.CORRUPT_STORE, 'broken');
        },
        { waitMs: 10_000, maxDelayMs: 20, onTimeout: timedOut },
      ),
      (e) => isTtjError(e, ErrorCodes.CORRUPT_STORE),
    );
    assert.equal(tries, 1);
  });
});
