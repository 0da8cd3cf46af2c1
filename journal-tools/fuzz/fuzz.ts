/**
 * The fuzz loop: runs cases from a seed until a count or a time budget is reached and
 * sums up what happened. Used by `npm run fuzz` (run.ts) and by test/fuzz/fuzz.test.ts.
 */
import { isKnownOpen } from './known-open.js';
import { runCase, type CaseOptions, type CaseViolation } from './run-case.js';

export interface FuzzOptions extends CaseOptions {
  seed: number;
  cases: number;
  /** Stop starting new cases after this many minutes. */
  minutes?: number;
  /** Cases run at once (they overlap their waits for I/O). Default 3. */
  concurrency?: number;
  /** Called after each case. */
  onCase?: (i: number, violations: CaseViolation[]) => void;
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  steps: number;
  /** Steps by kind (mutator, damage, `valid`; `damage+kind` for an append to a damaged journal). */
  kinds: Record<string, { accepted: number; refused: number }>;
  /** Violations of kinds in KNOWN_OPEN (expected until their fixes are merged). */
  knownOpen: CaseViolation[];
  /** Every other violation: each one is a bug. */
  violations: CaseViolation[];
  ms: number;
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const t0 = Date.now();
  const s: FuzzSummary = { seed: opts.seed, cases: 0, steps: 0, kinds: {}, knownOpen: [], violations: [], ms: 0 };
  const deadline = opts.minutes ? t0 + opts.minutes * 60_000 : Infinity;
  let next = 0;
  const worker = async () => {
    while (next < opts.cases && Date.now() < deadline) {
      const i = next++;
      const r = await runCase(opts.seed, i, opts);
      s.cases++;
      s.steps += r.steps;
      for (const [k, v] of r.kinds) {
        const t = (s.kinds[k] ??= { accepted: 0, refused: 0 });
        t.accepted += v.accepted;
        t.refused += v.refused;
      }
      for (const v of r.violations) (isKnownOpen(v.kind, v.rule) ? s.knownOpen : s.violations).push(v);
      opts.onCase?.(i, r.violations);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 3 }, worker));
  s.ms = Date.now() - t0;
  return s;
}
