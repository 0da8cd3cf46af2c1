/**
 * The property checked after every step of a case:
 * - a refused input fails with a stable TtjError code (not TTJ_INTERNAL, not a plain
 *   Error) and leaves the journal's logical snapshot unchanged;
 * - an accepted input is one the reference model accepts, `verify --deep` passes, and
 *   every point folds to exactly the bytes the model computes;
 * - a damaged journal: every point folds exactly or fails with a stable code, and
 *   when verify passes every point folds exactly; damage verify must see is seen.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { decodeEvent } from '../../src/journal/codec.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { verify } from '../../src/journal/verify.js';
import type { ModelPoint, PointRef, ReferenceModel } from './model.js';
import type { Rng } from './prng.js';

/** One broken promise. */
export interface Violation {
  /** What was broken: `unstable-error`, `changed-on-refusal`, `valid-refused`, `accepted-invalid`, `verify-failed`, `wrong-fold`, `wrong-time`, `fold-failed-after-verify`, `undetected-damage`, `opened-unsupported`. */
  property: string;
  detail: string;
}

/** A stable refusal: a TtjError whose code is not TTJ_INTERNAL. */
export function stableError(e: unknown): boolean {
  return isTtjError(e) && e.code !== ErrorCodes.INTERNAL;
}

export function describeError(e: unknown): string {
  return isTtjError(e) ? `${e.code}: ${e.message}` : `${(e as Error)?.constructor?.name ?? typeof e} (not a TtjError): ${(e as Error)?.message ?? String(e)}`;
}

async function readTree(dir: string, prefix = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const d of await readdir(dir, { withFileTypes: true })) {
    if (d.isDirectory()) for (const [k, v] of await readTree(join(dir, d.name), `${prefix}${d.name}/`)) out.set(k, v);
    else if (d.name !== 'manifest.json') out.set(prefix + d.name, await readFile(join(dir, d.name)));
  }
  return out;
}

/** Where `got` differs from `want`, or undefined. */
function compareFiles(want: Map<string, Buffer>, got: Map<string, Buffer>): string | undefined {
  for (const [k, v] of want) {
    const g = got.get(k);
    if (!g) return `${k} is missing`;
    if (!g.equals(v)) {
      let i = 0;
      while (i < v.length && g[i] === v[i]) i++;
      return `${k} differs from the model first at byte ${i} (${g.length} bytes, model ${v.length})`;
    }
  }
  for (const k of got.keys()) if (!want.has(k)) return `${k} is written but the model has none`;
  return undefined;
}

/**
 * The points to fold after a step: every epoch, frame and label point not folded
 * before (`seen` holds the ones that were, by name and epoch), the head, one new
 * `seq:` and one new `time:` point and one earlier point at random. Without `seen`:
 * every point, with at most `maxSeqs` `seq:` and `maxSeqs` `time:` points.
 */
export function choosePoints(model: ReferenceModel, rng: Rng, maxSeqs: number, seen?: Set<string>): ModelPoint[] {
  const refs = model.pointRefs();
  const seqs = refs.filter((r) => r.point.startsWith('seq:'));
  const times = refs.filter((r) => r.point.startsWith('time:'));
  const rest = refs.filter((r) => !r.point.startsWith('seq:') && !r.point.startsWith('time:'));
  const take = <T>(from: T[], n: number): T[] => {
    const pool = [...from];
    const out: T[] = [];
    while (out.length < n && pool.length) out.push(pool.splice(rng.int(pool.length), 1)[0]!);
    return out;
  };
  if (!seen) return model.points([...rest, ...take(times, maxSeqs), ...take(seqs, maxSeqs)]);
  const key = (r: PointRef) => `${r.point}@${r.epoch}`;
  const fresh = rest.filter((r) => r.point === 'head' || !seen.has(key(r)));
  fresh.push(
    ...take(
      seqs.filter((r) => !seen.has(key(r))),
      1,
    ),
    ...take(
      times.filter((r) => !seen.has(key(r))),
      1,
    ),
  );
  fresh.push(
    ...take(
      refs.filter((r) => r.point !== 'head' && seen.has(key(r))),
      1,
    ),
  );
  for (const r of fresh) seen.add(key(r));
  return model.points(fresh);
}

/**
 * Folds every point into `scratch` and compares with the model. `strict`: every fold
 * must succeed (verify passed); otherwise a fold may fail, with a stable code.
 */
export async function checkFolds(j: Journal, points: ModelPoint[], scratch: string, strict: boolean): Promise<Violation[]> {
  const out: Violation[] = [];
  for (const p of points) {
    const dir = join(scratch, 'fold');
    await rm(dir, { recursive: true, force: true });
    try {
      const m = await fold(j, { at: p.point, out: dir });
      if (!p.files) out.push({ property: 'wrong-fold', detail: `${p.point} folds, but nothing is committed there and there is no disk` });
      else {
        const diff = compareFiles(p.files, await readTree(dir));
        if (diff) out.push({ property: 'wrong-fold', detail: `${p.point} (manifest says epoch ${m.epoch}, model epoch ${p.epoch}): ${diff}` });
        else if (m.epoch !== p.epoch || (p.frame !== undefined && m.frame !== p.frame)) {
          out.push({ property: 'wrong-fold', detail: `${p.point}: the manifest names epoch ${m.epoch} frame ${m.frame}, the model epoch ${p.epoch} frame ${p.frame}` });
        }
      }
    } catch (e) {
      if (!stableError(e)) out.push({ property: 'unstable-error', detail: `fold ${p.point}: ${describeError(e)}` });
      else if (p.files && strict) out.push({ property: 'fold-failed-after-verify', detail: `fold ${p.point}: ${describeError(e)}` });
    }
    if (out.length) break;
  }
  await rm(join(scratch, 'fold'), { recursive: true, force: true });
  return out;
}

/** Verifies deeply; returns the report's error or undefined when ok. Open failures are returned too. */
export async function verifyJournal(journal: string): Promise<{ ok: boolean; error?: string; unstable?: string }> {
  let j: Journal;
  try {
    j = await Journal.open(journal);
  } catch (e) {
    return { ok: false, error: `open: ${describeError(e)}`, unstable: stableError(e) ? undefined : describeError(e) };
  }
  try {
    const v = await verify(j, { deep: true });
    const unstable = v.error && v.error.code === ErrorCodes.INTERNAL ? `verify: ${v.error.code}: ${v.error.message}` : undefined;
    return { ok: v.ok, error: v.error && `${v.error.code}: ${v.error.message}`, unstable };
  } finally {
    await j.close();
  }
}

/**
 * The times the journal stored for `seqs` (events given time 0, stamped by the journal),
 * and violations of the time rules: every event of the journal from `fromSeq` keeps the
 * time the stream gave it, times never go backwards, and none is ahead of the clock.
 */
export async function readTimes(journal: string, model: ReferenceModel, fromSeq: number): Promise<{ stamped: Map<number, number>; violations: Violation[] }> {
  const stamped = new Map<number, number>();
  const out: Violation[] = [];
  const j = await Journal.open(journal);
  try {
    let prev = fromSeq > 0 ? Number((await j.event(fromSeq - 1)).timeUs) : 0;
    for await (const { seq, bytes } of j.events({ from: fromSeq })) {
      const t = Number(decodeEvent(bytes, seq).timeUs);
      const given = seq > 0 ? model.times[seq - 1] : undefined;
      if (given === undefined) stamped.set(seq, t);
      else if (given !== t) out.push({ property: 'wrong-time', detail: `event ${seq} was given time ${given} and stored with ${t}` });
      if (t < prev) out.push({ property: 'wrong-time', detail: `event ${seq}: time ${t} goes back from ${prev}` });
      if (given === undefined && t > Date.now() * 1000 + 1e6) out.push({ property: 'wrong-time', detail: `event ${seq} was stamped ${t}, ahead of the clock` });
      prev = t;
    }
  } finally {
    await j.close();
  }
  return { stamped, violations: out.slice(0, 1) };
}

/**
 * After an accepted append of a healthy journal: verify passes, the head is the
 * model's, and every point folds exactly. Returns the time of the head event too.
 */
export async function checkHealthy(journal: string, model: ReferenceModel, points: ModelPoint[], scratch: string): Promise<Violation[]> {
  const j = await Journal.open(journal);
  try {
    const v = await verify(j, { deep: true });
    if (!v.ok) return [{ property: v.error?.code === ErrorCodes.INTERNAL ? 'unstable-error' : 'verify-failed', detail: `${v.error?.code}: ${v.error?.message}` }];
    const head = await j.head();
    if (head.seq !== model.headSeq) return [{ property: 'wrong-fold', detail: `the head is seq ${head.seq}, the model's ${model.headSeq}` }];
    return await checkFolds(j, points, scratch, true);
  } finally {
    await j.close();
  }
}

/** After damage: what verify says, and every point folds exactly or fails with a stable code (exactly, when verify passes). */
export async function checkDamaged(journal: string, points: ModelPoint[], scratch: string, opts: { mustDetect: boolean; mustRefuseOpen?: boolean }): Promise<{ verifyOk: boolean; violations: Violation[] }> {
  const v = await verifyJournal(journal);
  const out: Violation[] = [];
  if (v.unstable) out.push({ property: 'unstable-error', detail: v.unstable });
  let j: Journal | undefined;
  try {
    j = await Journal.open(journal);
  } catch (e) {
    if (!stableError(e)) out.push({ property: 'unstable-error', detail: `open: ${describeError(e)}` });
  }
  if (j && opts.mustRefuseOpen) out.push({ property: 'opened-unsupported', detail: 'a journal of an unsupported format version opens' });
  if (v.ok && opts.mustDetect) out.push({ property: 'undetected-damage', detail: 'verify --deep passes a damaged journal' });
  if (j) {
    try {
      out.push(...(await checkFolds(j, points, scratch, v.ok)));
    } finally {
      await j.close();
    }
  }
  return { verifyOk: v.ok, violations: out };
}
