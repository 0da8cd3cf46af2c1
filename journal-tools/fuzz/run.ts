/**
 * `npm run fuzz -- --cases N --seed S [--minutes M] [--only kind,kind] [--case I] [--concurrency C] [--json]`:
 * a long fuzz run by hand. Prints every violation with the seed and case that
 * reproduce it (`--seed S --case I` reruns that one case), then a summary by kind.
 * Exits 1 when a violation outside KNOWN_OPEN was found.
 */
import { fuzz } from './fuzz.js';
import { FOUND_OPEN, KNOWN_OPEN, isKnownOpen } from './known-open.js';
import { runCase } from './run-case.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const num = (name: string, def: number): number => {
  const v = arg(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number, not ${v}`);
  return n;
};

const seed = num('seed', Date.now() % 1_000_000);
const only = arg('only') ? new Set(arg('only')!.split(',')) : undefined;
const single = arg('case');
const print = (v: { kind: string; rule?: string; property: string; detail: string; seed: number; caseIndex: number; step: number }) =>
  console.log(`${isKnownOpen(v.kind, v.rule) ? 'known-open' : 'VIOLATION'} ${v.kind} ${v.property} (--seed ${v.seed} --case ${v.caseIndex}, step ${v.step}): ${v.detail}`);

if (single !== undefined) {
  const r = await runCase(seed, Number(single), { only });
  for (const v of r.violations) print(v);
  console.log(`case ${single}: ${r.steps} steps, ${JSON.stringify(Object.fromEntries(r.kinds))}`);
  process.exit(r.violations.some((v) => !isKnownOpen(v.kind, v.rule)) ? 1 : 0);
}

const s = await fuzz({
  seed,
  cases: num('cases', 1000),
  minutes: arg('minutes') ? num('minutes', 0) : undefined,
  only,
  concurrency: arg('concurrency') ? num('concurrency', 3) : undefined,
  onCase: (i, vs) => {
    for (const v of vs) print(v);
    if ((i + 1) % 50 === 0) process.stderr.write(`${i + 1} cases\n`);
  },
});
if (argv.includes('--json')) console.log(JSON.stringify(s, null, 2));
else {
  console.log(`seed ${s.seed}: ${s.cases} cases, ${s.steps} steps in ${(s.ms / 1000).toFixed(1)} s`);
  console.log(`violations: ${s.violations.length}; known open (${[...KNOWN_OPEN, ...FOUND_OPEN].join(', ')}): ${s.knownOpen.length}`);
  for (const [k, v] of Object.entries(s.kinds).sort()) console.log(`  ${k.padEnd(40)} accepted ${String(v.accepted).padStart(5)}  refused ${String(v.refused).padStart(5)}`);
}
process.exit(s.violations.length ? 1 : 0);
