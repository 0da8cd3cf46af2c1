/**
 * Mutator kinds whose violations are known and still open. A violation of one of these
 * kinds is reported but does not fail the bounded run in `npm test`; any other
 * violation does. REMOVE a kind from this list as soon as its fix is merged, so that
 * the fuzzer guards the fix from then on.
 */
export const KNOWN_OPEN: ReadonlySet<string> = new Set<string>([
  // Empty: issue 13's items 1-5 (blob sizes, index trust, a lost head, far-future times,
  // unsupported versions) are fixed, and the fuzzer guards them.
]);

/**
 * Violations the fuzzer found beyond issue 13's items 1-5, each with a failing (skipped)
 * reproduction under test/fuzz/regressions/. Same rule: remove a kind once fixed (and
 * unskip its regression test).
 */
export const FOUND_OPEN: ReadonlySet<string> = new Set<string>([
  // Empty: what the fuzzer found (content hashes and length fields of chunked content,
  // replaced keyframe entries, deleted epoch, frame and label entries) is fixed; the
  // reproductions under test/fuzz/regressions/ run in npm test.
]);

/**
 * True when a violation is a known open one (either list): of a step labelled `label`
 * (`kind`, or `damage+kind` for an append to a damaged journal), or an accepted stream
 * the model refuses by `rule` (the kind whose rule it breaks, whatever mutated it).
 */
export function isKnownOpen(label: string, rule?: string): boolean {
  return [...label.split('+'), ...(rule ? [rule] : [])].some((k) => KNOWN_OPEN.has(k) || FOUND_OPEN.has(k));
}
