/**
 * The retention policy of a prune (restic's `forget` and Proxmox Backup Server's
 * prune rules, applied to a journal's epochs): which epochs a policy keeps and why.
 * Pure: no I/O, the same answer for the same epochs and policy.
 *
 * Time buckets are in UTC, on the epoch's commit time:
 * - secondly: the UTC second (`2024-05-01T10:20:30Z`), minutely: the UTC minute,
 *   hourly: the UTC hour;
 * - daily: the UTC calendar day (00:00:00Z to 23:59:59.999999Z);
 * - weekly: the ISO-8601 week, Monday 00:00Z to Sunday 23:59:59.999999Z;
 * - monthly: the UTC calendar month; yearly: the UTC calendar year.
 *
 * A bucket rule of N (restic semantics) walks the epochs from the newest back and
 * keeps the newest epoch of each bucket it meets, until it has kept N: the N most
 * recent buckets that have an epoch each keep their newest one. Buckets without an
 * epoch do not count.
 */
import { ErrorCodes, TtjError } from '../errors.js';

/** What a retention policy needs to know of one epoch. */
export interface RetentionEpoch {
  epoch: number;
  /** Seq of its commit. */
  seq: number;
  /** Commit time, µs since the Unix epoch. */
  timeUs: number;
  /** Its labels (none: unlabelled). */
  labels: readonly string[];
}

/** The time-bucket rules, by bucket size. */
export const BUCKET_RULES = ['secondly', 'minutely', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
/** One time-bucket rule. */
export type BucketRule = (typeof BUCKET_RULES)[number];

/**
 * A retention policy. At least one keep rule (`keepWithinMs`, `keepLast`, a bucket
 * rule or `keepLabels`) must be given; `keepLabelled` and `forkPointEpochs` protect
 * epochs but are not rules by themselves.
 */
export interface RetentionPolicy {
  /** Keep every epoch committed less than this many milliseconds before the newest epoch's commit (restic's `--keep-within`: strictly within). */
  keepWithinMs?: number;
  /** Keep the N newest epochs. */
  keepLast?: number;
  /** Keep the newest epoch of each of the N most recent buckets of each size that have one (see the module's TSDoc for the buckets). */
  keep?: Partial<Record<BucketRule, number>>;
  /** Keep epochs that carry one of these labels. */
  keepLabels?: readonly string[];
  /** Keep every labelled epoch (default true; `--no-keep-labelled` turns it off). */
  keepLabelled?: boolean;
  /** Epochs that forks of this journal were made from (a journal does not know its forks: the caller names them). */
  forkPointEpochs?: readonly number[];
}

/** Why an epoch is kept: the rule that keeps it. */
export type KeepReason = 'head' | 'within' | 'last' | BucketRule | 'label' | 'labelled' | 'fork-point';

/** What a policy decides for one epoch. */
export interface RetentionVerdict {
  epoch: number;
  seq: number;
  timeUs: number;
  labels: readonly string[];
  keep: boolean;
  /** Every rule that keeps it, in a fixed order (empty: dropped). */
  reasons: KeepReason[];
}

const DAY_MS = 86_400_000;

/**
 * The UTC bucket of time `ms` for `rule`: equal numbers are the same bucket.
 * Weeks are ISO weeks (from Monday 00:00Z): 1970-01-01 was a Thursday, so day 4
 * (Monday 1970-01-05) starts week 1.
 */
export function bucketOf(rule: BucketRule, ms: number): number {
  switch (rule) {
    case 'secondly':
      return Math.floor(ms / 1000);
    case 'minutely':
      return Math.floor(ms / 60_000);
    case 'hourly':
      return Math.floor(ms / 3_600_000);
    case 'daily':
      return Math.floor(ms / DAY_MS);
    case 'weekly':
      return Math.floor((Math.floor(ms / DAY_MS) + 3) / 7);
    case 'monthly': {
      const d = new Date(ms);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    }
    case 'yearly':
      return new Date(ms).getUTCFullYear();
  }
}

/** True when the policy has at least one keep rule. */
function hasKeepRule(p: RetentionPolicy): boolean {
  return p.keepWithinMs !== undefined || p.keepLast !== undefined || BUCKET_RULES.some((r) => p.keep?.[r] !== undefined) || (p.keepLabels?.length ?? 0) > 0;
}

/**
 * Checks a policy.
 * @throws TtjError BAD_ARGUMENT: no keep rule, a count that is not a positive integer, a duration that is not positive, an empty label.
 */
function checkRetentionPolicy(p: RetentionPolicy): void {
  const bad = (msg: string) => new TtjError(ErrorCodes.BAD_ARGUMENT, msg);
  if (!hasKeepRule(p)) throw bad('a prune needs at least one --keep rule (--keep-within, --keep-last, --keep-secondly ... --keep-yearly, --keep-label)');
  const count = (name: string, n: number | undefined) => {
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 1)) throw bad(`--keep-${name} takes a positive whole number, got ${n}`);
  };
  count('last', p.keepLast);
  for (const r of BUCKET_RULES) count(r, p.keep?.[r]);
  if (p.keepWithinMs !== undefined && !(Number.isFinite(p.keepWithinMs) && p.keepWithinMs > 0)) throw bad(`--keep-within takes a positive duration, got ${p.keepWithinMs} ms`);
  if (p.keepLabels?.some((l) => !l)) throw bad('--keep-label takes a non-empty label');
}

/**
 * Applies `policy` to `epochs` (any order): for each epoch, kept or not and the rules
 * that keep it. The newest epoch (the head) is always kept. Returns the verdicts in
 * ascending epoch order.
 * @throws TtjError BAD_ARGUMENT (see {@link checkRetentionPolicy}).
 */
export function applyRetention(epochs: readonly RetentionEpoch[], policy: RetentionPolicy): RetentionVerdict[] {
  checkRetentionPolicy(policy);
  const sorted = [...epochs].sort((a, b) => a.epoch - b.epoch);
  const newest = sorted[sorted.length - 1];
  if (!newest) return [];
  const labelled = policy.keepLabelled ?? true;
  const keepLabels = new Set(policy.keepLabels ?? []);
  const forks = new Set(policy.forkPointEpochs ?? []);
  const withinFromUs = policy.keepWithinMs !== undefined ? newest.timeUs - policy.keepWithinMs * 1000 : undefined;
  // Per bucket rule: buckets still to keep, and the last bucket kept (walking newest first).
  const buckets = BUCKET_RULES.flatMap((rule) => {
    const n = policy.keep?.[rule];
    return n === undefined ? [] : [{ rule, left: n, last: undefined as number | undefined }];
  });
  const out: RetentionVerdict[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const e = sorted[i]!;
    const reasons: KeepReason[] = [];
    if (e === newest) reasons.push('head');
    if (withinFromUs !== undefined && e.timeUs > withinFromUs) reasons.push('within');
    if (policy.keepLast !== undefined && sorted.length - 1 - i < policy.keepLast) reasons.push('last');
    for (const b of buckets) {
      const key = bucketOf(b.rule, Math.floor(e.timeUs / 1000));
      if (b.left > 0 && key !== b.last) {
        b.left--;
        b.last = key;
        reasons.push(b.rule);
      }
    }
    if (e.labels.some((l) => keepLabels.has(l))) reasons.push('label');
    if (labelled && e.labels.length) reasons.push('labelled');
    if (forks.has(e.epoch)) reasons.push('fork-point');
    out.push({ epoch: e.epoch, seq: e.seq, timeUs: e.timeUs, labels: e.labels, keep: reasons.length > 0, reasons });
  }
  return out.reverse();
}
