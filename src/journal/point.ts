import { ErrorCodes, TtjError } from '../errors.js';
import { buf, decodeEvent, type Event } from './codec.js';
import type { Journal } from './journal.js';
import type { EpochEntry, FrameEntry } from './index-keys.js';

/** A parsed POINT: `head`, `epoch:N`, `frame:N`, `seq:N`, `time:ISO-8601` or `label:TEXT`. */
export type Point = { kind: 'head' } | { kind: 'epoch'; n: number } | { kind: 'frame'; n: number } | { kind: 'seq'; n: number } | { kind: 'time'; us: number; text: string } | { kind: 'label'; text: string };

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
 * Finds a point in the journal. The index finds it; the events it names confirm it
 * (the commit of the epoch, the frame, the label), so a damaged index entry is
 * reported, never folded.
 * @throws TtjError BAD_POINT, POINT_NOT_FOUND, NO_EPOCH, CORRUPT_STORE (the index does not match the events).
 */
export async function resolvePoint(j: Journal, text: string): Promise<ResolvedPoint> {
  const p = parsePoint(text);
  const notFound = (msg: string) => new TtjError(ErrorCodes.POINT_NOT_FOUND, `${text}: ${msg}`, { point: text });
  const head = await j.storeHead();
  const headSeq = head ? head.seq : -1;
  const check = new IndexCheck(j, headSeq);
  const at = (e: EpochEntry | undefined, extra: Partial<ResolvedPoint> = {}): ResolvedPoint => ({ point: text, seq: e ? e.seq : -1, epoch: e ? e.epoch : -1, epochSeq: e ? e.seq : -1, ...extra });
  switch (p.kind) {
    case 'head':
    case 'seq': {
      const seq = p.kind === 'head' ? headSeq : p.n;
      if (seq > headSeq) throw notFound(`the journal ends at seq ${headSeq}`);
      const e = await j.epochAtOrBeforeSeq(seq);
      if (e) await check.commit(e);
      // A commit the index lost after `e` is found by the fold's own replay up to `seq` (pointState).
      await check.nextEpochAfter(e, (n) => n.seq > seq, `seq ${seq}`, false);
      return { ...at(e), seq };
    }
    case 'epoch': {
      const e = await j.epoch(p.n);
      if (!e) throw notFound(`no such epoch (the journal has ${((await j.lastEpoch())?.epoch ?? -1) + 1})`);
      await check.commit(e, p.n);
      return at(e);
    }
    case 'frame': {
      const f = await j.frame(p.n);
      if (!f) throw notFound(`no such frame (the journal has ${((await j.lastFrame())?.frame ?? -1) + 1})`);
      await check.frame(f, p.n);
      const e = await check.epoch(f.epoch, `frame ${p.n}`);
      if (e.seq >= f.seq) throw check.damaged(`frame ${p.n}`, `its epoch ${f.epoch} is committed after it`);
      return at(e, { frame: f });
    }
    case 'time': {
      const e = await j.epochAtOrBeforeTime(p.us);
      if (!e) throw notFound('no epoch was committed at or before that time');
      await check.commit(e);
      if (e.timeUs > p.us) throw check.damaged(`epoch ${e.epoch}`, 'is later than the time asked for');
      await check.nextEpochAfter(e, (n) => n.timeUs > p.us, p.text, true);
      return at(e);
    }
    case 'label': {
      const found = await j.label(p.text);
      if (!found) throw notFound('no epoch has that label');
      await check.label(found, p.text);
      // The newest label event with this text must be the one the index found.
      await check.noneAfter(found.seq, (ev) => ev.body === 'label' && ev.label!.text === p.text && Number(ev.label!.epoch) > found.epoch, `label ${p.text}`);
      return at(await check.epoch(found.epoch, `label ${p.text}`), { label: p.text });
    }
  }
}

/** Confirms index entries against the events they name. */
class IndexCheck {
  constructor(
    private readonly j: Journal,
    private headSeq: number,
  ) {}

  damaged(what: string, why: string): TtjError {
    return new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: the entry of ${what} ${why} (ttj repair rebuilds it from the events)`, {});
  }

  /** The event at `seq`, which an entry of `what` names. */
  private async event(seq: number, what: string): Promise<Event> {
    // A live writer may have appended since the head was read: read it again before calling the entry damaged.
    if (Number.isSafeInteger(seq) && seq > this.headSeq) this.headSeq = (await this.j.storeHead())?.seq ?? -1;
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.headSeq) throw this.damaged(what, `names seq ${seq}, beyond the head ${this.headSeq}`);
    return this.j.event(seq);
  }

  /** The entry of epoch `n`, confirmed; it must exist (`what` needs it). */
  async epoch(n: number, what: string): Promise<EpochEntry> {
    const e = await this.j.epoch(n);
    if (!e) throw this.damaged(what, `names epoch ${n}, which has no entry`);
    await this.commit(e, n);
    return e;
  }

  /** `e` (the entry of epoch `n`) names the commit of epoch `n` with its state root. */
  async commit(e: EpochEntry, n: number = e.epoch): Promise<void> {
    const ev = await this.event(e.seq, `epoch ${n}`);
    const c = ev.epochCommit;
    if (e.epoch !== n || ev.body !== 'epochCommit' || !c || Number(c.epoch) !== n || buf(c.stateRoot).toString('hex') !== e.stateRoot || Number(ev.timeUs) !== e.timeUs) {
      throw this.damaged(`epoch ${n}`, `does not match event ${e.seq}`);
    }
  }

  /** The epoch after `e` (if the index has one) must not also qualify: else the index search was misled. */
  async nextEpochAfter(e: EpochEntry | undefined, beyond: (next: EpochEntry) => boolean, what: string, scanIfLast: boolean): Promise<void> {
    const next = await this.j.epoch(e ? e.epoch + 1 : 0);
    if (!next) {
      // The index has no later epoch: the events must not have one either (read them when nothing else will).
      if (scanIfLast) await this.noneAfter(e ? e.seq : -1, (ev) => ev.body === 'epochCommit', `the last epoch (${e ? e.epoch : 'none'})`);
      return;
    }
    await this.commit(next, e ? e.epoch + 1 : 0);
    if (!beyond(next)) throw this.damaged(`epoch ${next.epoch}`, `places it before ${what} but the search stopped earlier`);
  }

  /** No event after `seq` (up to the head) may be one `is` picks: else the entry of `what` is not the last one, as the index says. */
  async noneAfter(seq: number, is: (ev: Event) => boolean, what: string): Promise<void> {
    for await (const batch of this.j.storedEvents(seq + 1, this.headSeq + 1)) {
      for (const e of batch) if (is(decodeEvent(e.bytes, e.seq))) throw this.damaged(what, `is not the last one: event ${e.seq} comes after it`);
    }
  }

  async frame(f: FrameEntry, n: number): Promise<void> {
    const ev = await this.event(f.seq, `frame ${n}`);
    if (f.frame !== n || ev.body !== 'frame' || Number(ev.frame!.frame) !== n || Number(ev.frame!.epoch) !== f.epoch) throw this.damaged(`frame ${n}`, `does not match event ${f.seq}`);
  }

  async label(l: { epoch: number; seq: number; text: string }, text: string): Promise<void> {
    const ev = await this.event(l.seq, `label ${text}`);
    if (ev.body !== 'label' || ev.label!.text !== text || Number(ev.label!.epoch) !== l.epoch) throw this.damaged(`label ${text}`, `does not match event ${l.seq}`);
  }
}
