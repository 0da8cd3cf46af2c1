import { ErrorCodes, TtjError } from '../errors.js';
import type { Journal } from './journal.js';
import { labelPrefix, parseValue, type FrameEntry } from './index-keys.js';

/** A parsed POINT: `head`, `epoch:N`, `frame:N`, `seq:N`, `time:ISO-8601` or `label:TEXT`. */
export type Point =
  | { kind: 'head' }
  | { kind: 'epoch'; n: number }
  | { kind: 'frame'; n: number }
  | { kind: 'seq'; n: number }
  | { kind: 'time'; us: number; text: string }
  | { kind: 'label'; text: string };

/** Where a point is in the stream. */
export interface ResolvedPoint {
  point: string;
  /** Fold disks up to and including this seq. */
  seq: number;
  /** Memory and device are those of this epoch (-1: none committed yet). */
  epoch: number;
  epochSeq: number;
  frame?: FrameEntry;
  label?: string;
}

const nat = (s: string, p: string) => {
  if (!/^\d+$/.test(s)) throw new TtjError(ErrorCodes.BAD_POINT, `bad point ${JSON.stringify(p)}: ${JSON.stringify(s)} is not a number`, { point: p });
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new TtjError(ErrorCodes.BAD_POINT, `bad point ${JSON.stringify(p)}: number too large`, { point: p });
  return n;
};

/**
 * Parses a POINT.
 * @throws TtjError BAD_POINT.
 */
export function parsePoint(p: string): Point {
  if (p === 'head') return { kind: 'head' };
  const i = p.indexOf(':');
  const kind = i > 0 ? p.slice(0, i) : '';
  const rest = i > 0 ? p.slice(i + 1) : '';
  switch (kind) {
    case 'epoch':
    case 'frame':
    case 'seq':
      return { kind, n: nat(rest, p) };
    case 'time': {
      const ms = /^\d{4}-\d{2}-\d{2}/.test(rest) ? Date.parse(rest) : NaN;
      if (Number.isNaN(ms)) throw new TtjError(ErrorCodes.BAD_POINT, `bad point ${JSON.stringify(p)}: not an ISO-8601 time`, { point: p });
      return { kind: 'time', us: ms * 1000 + 999, text: rest };
    }
    case 'label':
      if (!rest) throw new TtjError(ErrorCodes.BAD_POINT, `bad point ${JSON.stringify(p)}: empty label`, { point: p });
      return { kind: 'label', text: rest };
    default:
      throw new TtjError(ErrorCodes.BAD_POINT, `bad point ${JSON.stringify(p)}: use head, epoch:N, frame:N, seq:N, time:ISO-8601 or label:TEXT`, { point: p });
  }
}

/**
 * Finds a point in the journal.
 * @throws TtjError BAD_POINT, POINT_NOT_FOUND, NO_EPOCH.
 */
export async function resolvePoint(j: Journal, text: string): Promise<ResolvedPoint> {
  const p = parsePoint(text);
  const notFound = (msg: string) => new TtjError(ErrorCodes.POINT_NOT_FOUND, `${text}: ${msg}`, { point: text });
  const head = await j.store.head();
  const headSeq = head ? head.seq : -1;
  switch (p.kind) {
    case 'head':
    case 'seq': {
      const seq = p.kind === 'head' ? headSeq : p.n;
      if (seq > headSeq) throw notFound(`the journal ends at seq ${headSeq}`);
      const e = await j.epochAtOrBeforeSeq(seq);
      return { point: text, seq, epoch: e ? e.epoch : -1, epochSeq: e ? e.seq : -1 };
    }
    case 'epoch': {
      const e = await j.epoch(p.n);
      if (!e) throw notFound(`no such epoch (the journal has ${((await j.lastEpoch())?.epoch ?? -1) + 1})`);
      return { point: text, seq: e.seq, epoch: e.epoch, epochSeq: e.seq };
    }
    case 'frame': {
      const f = await j.frame(p.n);
      if (!f) throw notFound(`no such frame (the journal has ${((await j.lastFrame())?.frame ?? -1) + 1})`);
      const e = (await j.epoch(f.epoch))!;
      return { point: text, seq: e.seq, epoch: e.epoch, epochSeq: e.seq, frame: f };
    }
    case 'time': {
      const e = await j.epochAtOrBeforeTime(p.us);
      if (!e) throw notFound('no epoch was committed at or before that time');
      return { point: text, seq: e.seq, epoch: e.epoch, epochSeq: e.seq };
    }
    case 'label': {
      let found: { epoch: number } | undefined;
      for await (const [, v] of j.store.indexRange({ gte: labelPrefix(p.text), lt: labelPrefix(p.text) + '~', reverse: true, limit: 1 })) found = parseValue(v);
      if (!found) throw notFound('no epoch has that label');
      const e = (await j.epoch(found.epoch))!;
      return { point: text, seq: e.seq, epoch: e.epoch, epochSeq: e.seq, label: p.text };
    }
  }
}
