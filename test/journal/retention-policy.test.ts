import assert from 'node:assert/strict';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { applyRetention, bucketOf, type RetentionEpoch, type RetentionPolicy } from '../../src/journal/retention-policy.js';

/** Epochs committed at these UTC times (epoch n at times[n]), labelled as given. */
const epochs = (times: string[], labels: Record<number, string[]> = {}): RetentionEpoch[] => times.map((t, n) => ({ epoch: n, seq: 10 * n + 5, timeUs: Date.parse(t) * 1000, labels: labels[n] ?? [] }));
/** The kept epochs' numbers. */
const keptOf = (es: RetentionEpoch[], p: RetentionPolicy) =>
  applyRetention(es, p)
    .filter((v) => v.keep)
    .map((v) => v.epoch);
const reasonsOf = (es: RetentionEpoch[], p: RetentionPolicy) => applyRetention(es, p).map((v) => v.reasons.join(','));
const badArgument = (e: unknown) => isTtjError(e, ErrorCodes.BAD_ARGUMENT);

describe('retention policy (keep rules, UTC buckets)', function () {
  const hours = epochs(['2024-03-10T08:00:00Z', '2024-03-10T09:00:00Z', '2024-03-10T10:00:00Z', '2024-03-10T11:00:00Z', '2024-03-10T12:00:00Z']);

  it('a policy without a keep rule is refused, also with only labelled epochs or fork points protected', () => {
    for (const p of [{}, { keepLabelled: true }, { forkPointEpochs: [1] }, { keep: {} }, { keepLabels: [] }] as RetentionPolicy[]) {
      assert.throws(() => applyRetention(hours, p), badArgument, JSON.stringify(p));
    }
    assert.throws(() => applyRetention([], {}), badArgument, 'even for a journal without epochs');
  });

  it('counts must be positive whole numbers, durations positive, labels not empty', () => {
    for (const p of [{ keepLast: 0 }, { keepLast: -1 }, { keepLast: 1.5 }, { keep: { daily: 0 } }, { keepWithinMs: 0 }, { keepWithinMs: -5 }, { keepLabels: [''] }] as RetentionPolicy[]) {
      assert.throws(() => applyRetention(hours, p), badArgument, JSON.stringify(p));
    }
  });

  it('the newest epoch (the head) is always kept, whatever the rules keep', () => {
    assert.deepEqual(keptOf(hours, { keepLabels: ['nothing has this'] }), [4]);
    assert.deepEqual(reasonsOf(hours, { keepLabels: ['nothing has this'] }), ['', '', '', '', 'head']);
    assert.deepEqual(applyRetention([], { keepLast: 3 }), []);
  });

  it('keep-last N keeps the N newest epochs', () => {
    assert.deepEqual(keptOf(hours, { keepLast: 1 }), [4]);
    assert.deepEqual(keptOf(hours, { keepLast: 3 }), [2, 3, 4]);
    assert.deepEqual(keptOf(hours, { keepLast: 99 }), [0, 1, 2, 3, 4]);
  });

  it('keep-within keeps the epochs committed strictly within the duration of the newest one (as restic)', () => {
    assert.deepEqual(keptOf(hours, { keepWithinMs: 2 * 3_600_000 }), [3, 4], 'the epoch exactly 2 h older is not within 2 h');
    assert.deepEqual(keptOf(hours, { keepWithinMs: 2 * 3_600_000 + 1 }), [2, 3, 4]);
    assert.deepEqual(reasonsOf(hours, { keepWithinMs: 1 }), ['', '', '', '', 'head,within']);
  });

  it('hourly: the newest epoch of each of the N most recent hours that have one, at the hour boundaries', () => {
    const es = epochs(['2024-03-10T09:59:59.999Z', '2024-03-10T10:00:00.000Z', '2024-03-10T10:30:00Z', '2024-03-10T11:00:00Z']);
    assert.deepEqual(keptOf(es, { keep: { hourly: 1 } }), [3]);
    assert.deepEqual(keptOf(es, { keep: { hourly: 2 } }), [2, 3], '10:30 is the newest of hour 10; 10:00:00.000 is in it too');
    assert.deepEqual(keptOf(es, { keep: { hourly: 3 } }), [0, 2, 3], '09:59:59.999 is hour 9');
  });

  it('daily: UTC calendar days, 23:59:59.999Z and 00:00Z are different days; days without an epoch do not count', () => {
    const es = epochs(['2024-03-01T12:00:00Z', '2024-03-01T23:59:59.999Z', '2024-03-02T00:00:00Z', '2024-03-05T08:00:00Z', '2024-03-05T09:00:00Z']);
    assert.deepEqual(keptOf(es, { keep: { daily: 2 } }), [2, 4]);
    assert.deepEqual(keptOf(es, { keep: { daily: 3 } }), [1, 2, 4], 'March 3 and 4 have no epoch: the third day back with one is March 1');
    assert.deepEqual(keptOf(es, { keep: { daily: 10 } }), [1, 2, 4], 'one per day, however many days are asked for');
  });

  it('weekly: ISO weeks from Monday 00:00Z', () => {
    const ms = (t: string) => Date.parse(t);
    assert.equal(bucketOf('weekly', ms('2024-01-01T00:00:00Z')), bucketOf('weekly', ms('2024-01-07T23:59:59.999Z')), 'Monday to Sunday of one week');
    assert.equal(bucketOf('weekly', ms('2024-01-07T23:59:59.999Z')) + 1, bucketOf('weekly', ms('2024-01-08T00:00:00Z')), 'the next Monday starts the next week');
    assert.equal(bucketOf('weekly', ms('1970-01-04T23:59:59Z')) + 1, bucketOf('weekly', ms('1970-01-05T00:00:00Z')), 'also at the Unix epoch (a Thursday)');
    const es = epochs(['2024-01-01T00:00:00Z', '2024-01-07T23:59:59Z', '2024-01-08T00:00:00Z', '2024-01-10T00:00:00Z']);
    assert.deepEqual(keptOf(es, { keep: { weekly: 2 } }), [1, 3]);
  });

  it('secondly, minutely, monthly and yearly buckets', () => {
    const secs = epochs(['2024-03-10T10:00:00.100Z', '2024-03-10T10:00:00.900Z', '2024-03-10T10:00:01.000Z']);
    assert.deepEqual(keptOf(secs, { keep: { secondly: 2 } }), [1, 2]);
    const mins = epochs(['2024-03-10T10:00:59Z', '2024-03-10T10:01:00Z', '2024-03-10T10:01:30Z']);
    assert.deepEqual(keptOf(mins, { keep: { minutely: 2 } }), [0, 2]);
    const months = epochs(['2024-01-31T23:59:59Z', '2024-02-01T00:00:00Z', '2024-02-29T12:00:00Z', '2024-12-31T23:59:59Z', '2025-01-01T00:00:00Z']);
    assert.deepEqual(keptOf(months, { keep: { monthly: 3 } }), [2, 3, 4]);
    assert.deepEqual(keptOf(months, { keep: { monthly: 4 } }), [0, 2, 3, 4]);
    assert.deepEqual(keptOf(months, { keep: { yearly: 2 } }), [3, 4]);
  });

  it('labelled epochs are kept by default; --keep-label keeps those with the label; without keep-labelled only those', () => {
    const es = epochs(['2024-03-10T08:00:00Z', '2024-03-10T09:00:00Z', '2024-03-10T10:00:00Z', '2024-03-10T11:00:00Z'], { 0: ['before upgrade'], 1: ['x'] });
    assert.deepEqual(keptOf(es, { keepLast: 1 }), [0, 1, 3]);
    assert.deepEqual(reasonsOf(es, { keepLast: 1 }), ['labelled', 'labelled', '', 'head,last']);
    assert.deepEqual(keptOf(es, { keepLast: 1, keepLabelled: false }), [3]);
    assert.deepEqual(keptOf(es, { keepLabels: ['before upgrade'], keepLabelled: false }), [0, 3]);
    assert.deepEqual(reasonsOf(es, { keepLabels: ['before upgrade'] }), ['label,labelled', 'labelled', '', 'head']);
  });

  it('fork points are kept', () => {
    assert.deepEqual(keptOf(hours, { keepLast: 1, forkPointEpochs: [1] }), [1, 4]);
    assert.deepEqual(reasonsOf(hours, { keepLast: 1, forkPointEpochs: [1, 4] }), ['', 'fork-point', '', '', 'head,last,fork-point']);
  });

  it('rules combine: an epoch is kept when any rule keeps it, with every rule that does', () => {
    const es = epochs(['2024-03-08T10:00:00Z', '2024-03-09T10:00:00Z', '2024-03-09T11:00:00Z', '2024-03-10T10:00:00Z', '2024-03-10T11:00:00Z', '2024-03-10T11:30:00Z']);
    assert.deepEqual(reasonsOf(es, { keepLast: 2, keep: { daily: 3, hourly: 2 } }), ['daily', '', 'daily', 'hourly', 'last', 'head,last,hourly,daily'], '11:00 and 11:30 on the 10th are one hour');
  });

  it('the verdicts are in epoch order whatever the order given', () => {
    const shuffled = [hours[3]!, hours[0]!, hours[4]!, hours[2]!, hours[1]!];
    assert.deepEqual(
      applyRetention(shuffled, { keepLast: 2 }).map((v) => [v.epoch, v.keep]),
      [
        [0, false],
        [1, false],
        [2, false],
        [3, true],
        [4, true],
      ],
    );
  });
});
