/**
 * Labelling a committed epoch (`ttj label`, the page's "Label it"): a label event, between
 * epochs, naming the epoch of a POINT (docs/format.md, "Labels"). One operation, run by the
 * journal's writer: in this process, or by a live writer asked over its request channel.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { SigningKey } from './signing-key.js';
import { resolvePoint } from './point.js';
import { inWriterTurn } from './writer-turn.js';
import type { JournalWriter } from './writer.js';

/** The name of the writer request that labels an epoch (its args: a {@link LabelRequest}). */
export const LABEL_REQUEST = 'label';

/** Longest label text, in UTF-8 bytes (labels are index keys). */
export const MAX_LABEL_BYTES = 1024;

/** What to label: the epoch of a POINT (default `head`) gets `text`. */
export interface LabelRequest {
  text: string;
  /** A POINT (default `head`): its epoch is labelled (`frame:N`: the last epoch committed before frame N). */
  at?: string;
}

/** `ttj label --json`: the label as appended. */
export interface LabelResult {
  text: string;
  /** The POINT given. */
  at: string;
  /** The epoch labelled. */
  epoch: number;
  /** The seq of the epoch's commit. */
  epochSeq: number;
  /** The seq of the label event. */
  seq: number;
  /** The frame of a `frame:N` point. */
  frame?: number;
  /** The process whose writer appended it (this one, or a live `ttj record`/`ttj nbd`). */
  ranBy: { pid: number };
}

/**
 * Checks a label text: not empty or only blanks, at most {@link MAX_LABEL_BYTES}.
 * @throws TtjError BAD_ARGUMENT.
 */
export function checkLabelText(text: unknown): string {
  if (typeof text !== 'string' || !text.trim()) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the label is empty', { actual: typeof text === 'string' ? text : String(text) });
  const n = Buffer.byteLength(text);
  if (n > MAX_LABEL_BYTES) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the label is ${n} bytes long; at most ${MAX_LABEL_BYTES}`, { actual: n, max: MAX_LABEL_BYTES });
  return text;
}

/**
 * Labels the epoch of `req.at` with `req.text`, as the writer `w`: appends one label event
 * that names the epoch (`chosen`), so an epoch committed long ago can be labelled.
 * @throws TtjError BAD_ARGUMENT (the text), BAD_POINT, POINT_NOT_FOUND (a point not in the journal), NO_EPOCH (no epoch committed there), PRUNED (a pruned epoch).
 */
export async function labelEpoch(w: JournalWriter, req: LabelRequest): Promise<LabelResult> {
  const text = checkLabelText(req.text);
  const at = req.at ?? 'head';
  if (typeof at !== 'string') throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the point to label is not a string', { actual: String(at) });
  const p = await resolvePoint(w, at);
  if (p.epoch < 0) throw new TtjError(ErrorCodes.NO_EPOCH, `${at}: no epoch is committed there to label`, { point: at });
  const r = await w.commit([{ label: { text, epoch: p.epoch, chosen: true } }]);
  return { text, at, epoch: p.epoch, epochSeq: p.epochSeq, seq: r.lastSeq, frame: p.frame?.frame, ranBy: { pid: process.pid } };
}

/** Options of {@link labelJournal}. */
export interface LabelJournalOptions extends LabelRequest {
  /** Unlocks an encrypted journal. */
  password?: string;
  /** Signs the label event when this process is the writer. */
  signWith?: SigningKey;
}

/**
 * `ttj label`: labels the epoch of a POINT of the journal at `location`, as its writer or,
 * while `ttj record` or `ttj nbd` holds an embedded journal, through that live writer
 * (the {@link LABEL_REQUEST} request).
 * @throws TtjError what {@link labelEpoch} throws, NOT_A_JOURNAL, LOCKED (a writer that does not answer; a PostgreSQL journal with a live writer).
 */
export async function labelJournal(location: string, opts: LabelJournalOptions): Promise<LabelResult> {
  const req: LabelRequest = { text: checkLabelText(opts.text), at: opts.at ?? 'head' };
  return await inWriterTurn(location, { command: 'ttj label', password: opts.password, signWith: opts.signWith }, { name: LABEL_REQUEST, args: req }, (w) => labelEpoch(w, req));
}
