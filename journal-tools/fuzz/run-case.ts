/**
 * One fuzz case: a fresh journal in a temp dir, then a few steps, each a valid
 * append, a mutated append or (once) damage done to the journal on disk, with the
 * property checked after every step (see property.ts). Appends run in-process
 * through the library, the way `ttj append --events` runs them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendEventStream, encodeEventStream, parseEventStream } from '../../src/journal/append-events.js';
import { initJournal } from '../../src/journal/init-journal.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { validStep } from './generators.js';
import { JOURNAL_MUTATORS } from './journal-mutators.js';
import { ModelRefusal, ReferenceModel } from './model.js';
import { Rng } from './prng.js';
import { checkDamaged, checkHealthy, choosePoints, describeError, readTimes, stableError, type Violation } from './property.js';
import { diffSnapshots, snapshot } from './snapshot.js';
import { STREAM_MUTATORS } from './stream-mutators.js';

/** A violation with what produced it. */
export interface CaseViolation extends Violation {
  seed: number;
  caseIndex: number;
  step: number;
  /** The mutator kind of the step (`valid` for an unmutated one). */
  kind: string;
  /** For an accepted stream the model refuses: the rule it breaks (see ModelRefusal). */
  rule?: string;
}

export interface CaseResult {
  steps: number;
  /** Steps by kind: how many were accepted and refused. */
  kinds: Map<string, { accepted: number; refused: number }>;
  violations: CaseViolation[];
}

export interface CaseOptions {
  /** Restrict mutations to these kinds (stream or journal). */
  only?: Set<string>;
  /** Most `seq:` points folded per check. Default 4. */
  maxSeqPoints?: number;
  /** Base directory for the case's temp dirs (default: /dev/shm when there, else the OS temp dir). */
  tmpBase?: string;
}

/** The seed of case `i` of a run seeded `seed`. */
export const caseSeed = (seed: number, i: number) => (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0;

const tmpBase = () => (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());

/** Appends a stream as `ttj append --events` does: one writer session per append. */
async function appendStream(journal: string, stream: Buffer): Promise<{ ok: true } | { ok: false; error: unknown }> {
  let w: JournalWriter | undefined;
  try {
    w = await JournalWriter.openWriter(journal, { create: true, command: 'fuzz' });
    await appendEventStream(w, stream);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e };
  } finally {
    await w?.close().catch(() => undefined);
  }
}

/** The time the journal stamped on its newest event (for steps given time 0). */
async function headTime(journal: string): Promise<number> {
  const j = await Journal.open(journal);
  try {
    const h = await j.head();
    return Number((await j.event(h.seq)).timeUs);
  } finally {
    await j.close();
  }
}

/** Runs case `caseIndex` of a run seeded `seed`. */
export async function runCase(seed: number, caseIndex: number, opts: CaseOptions = {}): Promise<CaseResult> {
  const rng = new Rng(caseSeed(seed, caseIndex));
  const dir = await mkdtemp(join(opts.tmpBase ?? tmpBase(), 'ttj-fuzz-'));
  const journal = join(dir, 'j');
  const result: CaseResult = { steps: 0, kinds: new Map(), violations: [] };
  const count = (kind: string, accepted: boolean) => {
    const k = result.kinds.get(kind) ?? { accepted: 0, refused: 0 };
    if (accepted) k.accepted++;
    else k.refused++;
    result.kinds.set(kind, k);
  };
  const streamKinds = STREAM_MUTATORS.filter((m) => !opts.only || opts.only.has(m.kind));
  const journalKinds = JOURNAL_MUTATORS.filter((m) => !opts.only || opts.only.has(m.kind));
  try {
    const pageSize = rng.pick([4096, 4096, 4096, 512, 8192]);
    await initJournal(journal, { pageSize });
    let model = ReferenceModel.empty(pageSize, await headTime(journal));
    let damaged: string | undefined;
    const seen = new Set<string>();
    let mutated = 0;
    const steps = rng.range(3, 7);
    for (let step = 0; step < steps; step++) {
      result.steps++;
      const fail = (kind: string, v: Violation) => result.violations.push({ ...v, seed, caseIndex, step, kind });
      // Damage once, after some history, then try appending to it.
      if (!damaged && step >= 2 && journalKinds.length && rng.chance(opts.only ? 0.5 : 0.35)) {
        // Kinds in turn by case (so that a bounded run meets each), the next one when one finds nothing to damage.
        let m = journalKinds[caseIndex % journalKinds.length]!;
        let what: string | undefined;
        for (let k = 0; k < journalKinds.length && !what; k++) {
          m = journalKinds[(caseIndex + k) % journalKinds.length]!;
          what = await m.apply(rng, journal);
        }
        if (!what) continue;
        damaged = m.kind;
        count(m.kind, true);
        const points = choosePoints(model, rng, opts.maxSeqPoints ?? 4);
        const r = await checkDamaged(journal, points, dir, { mustDetect: m.mustDetect, mustRefuseOpen: m.mustRefuseOpen });
        for (const v of r.violations) fail(m.kind, { ...v, detail: `${what}: ${v.detail}` });
        if (r.violations.length) break;
        continue;
      }
      const base = validStep(rng, model.view());
      let kind = 'valid';
      let stream = encodeEventStream(base.events);
      if (streamKinds.length && rng.chance(opts.only ? 0.8 : 0.45)) {
        // Kinds in turn (so that a bounded run meets each), the next one when one finds nothing to mutate in this step.
        const first = (caseIndex + 7 * mutated++) % streamKinds.length;
        for (let k = 0; k < streamKinds.length && kind === 'valid'; k++) {
          const m = streamKinds[(first + k) % streamKinds.length]!;
          const s = m.apply(rng, base.events, model.view());
          if (s) {
            kind = m.kind;
            stream = s;
          }
        }
      }
      const label = damaged ? `${damaged}+${kind}` : kind;
      let next: ReferenceModel | undefined;
      let why = '';
      let rule: string | undefined;
      try {
        next = model.tryStep(parseEventStream(stream));
      } catch (e) {
        if (!(e instanceof ModelRefusal) && !stableError(e)) throw e;
        why = (e as Error).message;
        rule = e instanceof ModelRefusal ? e.rule : undefined;
      }
      const before = await snapshot(journal);
      const r = await appendStream(journal, stream);
      count(label, r.ok);
      if (!r.ok) {
        if (!stableError(r.error)) fail(label, { property: 'unstable-error', detail: `append: ${describeError(r.error)}` });
        const diff = diffSnapshots(before, await snapshot(journal));
        if (diff.length) fail(label, { property: 'changed-on-refusal', detail: `append refused (${describeError(r.error)}) but ${diff.slice(0, 4).join(', ')}` });
        if (kind === 'valid' && !damaged) fail(label, { property: 'valid-refused', detail: `a valid step was refused: ${describeError(r.error)}` });
        if (result.violations.length) break;
        continue;
      }
      if (!next) {
        result.violations.push({ property: 'accepted-invalid', detail: `append accepted a stream the model refuses (${rule}): ${why}`, seed, caseIndex, step, kind: label, rule });
        break;
      }
      // Times: the journal's for events given time 0 (read back), checked against the stream's.
      if (!damaged) {
        const t = await readTimes(journal, next, model.headSeq + 1);
        for (const v of t.violations) fail(label, v);
        next = next.withTimes(t.stamped);
      }
      model = next;
      const points = choosePoints(model, rng, opts.maxSeqPoints ?? 4, damaged ? undefined : seen);
      if (damaged) {
        const m = JOURNAL_MUTATORS.find((x) => x.kind === damaged)!;
        const c = await checkDamaged(journal, points, dir, { mustDetect: m.mustDetect, mustRefuseOpen: m.mustRefuseOpen });
        for (const v of c.violations) fail(label, v);
      } else for (const v of await checkHealthy(journal, model, points, dir)) fail(label, v);
      if (result.violations.length) break;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}
