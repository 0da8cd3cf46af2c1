/**
 * The messages of the request channel to a PostgreSQL journal's writer (docs/stores.md,
 * "Requests to the writer"), carried as `NOTIFY` payloads: a message's JSON body, base64,
 * cut into parts small enough for a payload (PostgreSQL takes fewer than 8000 bytes), each
 * part `{"r": request id, "k": kind, "i": part, "n": parts, "d": base64}`. A message's
 * parts are sent in one transaction, so they arrive together and in order; the receiver
 * puts them together by request id and kind.
 */
import type { Queryable } from './pg-query.js';

/** Kinds of messages: a request (to the writer), and the writer's answers to it. */
export type RequestMessageKind = 'request' | 'accepted' | 'result' | 'error';

/** A whole message, put together from its parts. */
export interface RequestMessage {
  /** The request it belongs to. */
  id: string;
  kind: RequestMessageKind;
  body: unknown;
  /** The server pid of the session that sent it (from the notification: the server says, the sender cannot choose). */
  senderPid: number;
}

/** Base64 characters per payload (the rest of the payload stays well under 8000 bytes). */
const PART_CHARS = 7000;
/** Parts of one message at most (about 36 MiB of JSON); more is refused as garbage. */
const MAX_PARTS = 8192;
/** Messages being put together at once at most; the oldest is dropped beyond. */
const MAX_PENDING = 64;

const KINDS = new Set<string>(['request', 'accepted', 'result', 'error']);

/** The channel a journal's writer listens on for requests (journal ids are the `ttj_journal.id` of its database). */
export function requestChannel(journalId: number): string {
  return `ttj_request_${journalId}`;
}

/** A requester's reply channel: `ttj_reply_` and hex digits (the writer answers only such a channel). */
export const REPLY_CHANNEL = /^ttj_reply_[0-9a-f]{8,40}$/;

/** The `NOTIFY` payloads of one message. */
export function encodeMessage(id: string, kind: RequestMessageKind, body: unknown): string[] {
  const data = Buffer.from(JSON.stringify(body ?? null)).toString('base64');
  const n = Math.max(1, Math.ceil(data.length / PART_CHARS));
  return Array.from({ length: n }, (_, i) => JSON.stringify({ r: id, k: kind, i, n, d: data.slice(i * PART_CHARS, (i + 1) * PART_CHARS) }));
}

/** Puts messages together from their parts; a payload that is not a part is ignored. */
export class MessageAssembler {
  private readonly pending = new Map<string, { parts: string[]; have: number }>();

  /** Feeds one payload; returns the message it completes, if any. */
  feed(payload: string, senderPid: number): RequestMessage | undefined {
    const p = parsePart(payload);
    if (!p) return undefined;
    const key = `${p.r}\0${p.k}\0${senderPid}`;
    let m = this.pending.get(key);
    if (!m || m.parts.length !== p.n) {
      m = { parts: new Array<string>(p.n), have: 0 };
      this.pending.set(key, m);
      if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    }
    if (m.parts[p.i] === undefined) m.have++;
    m.parts[p.i] = p.d;
    if (m.have < p.n) return undefined;
    this.pending.delete(key);
    try {
      return { id: p.r, kind: p.k, body: JSON.parse(Buffer.from(m.parts.join(''), 'base64').toString('utf8')), senderPid };
    } catch {
      return undefined;
    }
  }
}

/** One part, checked; undefined for anything else. */
function parsePart(payload: string): { r: string; k: RequestMessageKind; i: number; n: number; d: string } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const p = v as { r?: unknown; k?: unknown; i?: unknown; n?: unknown; d?: unknown };
  if (typeof p.r !== 'string' || !/^[0-9a-f]{1,64}$/.test(p.r) || typeof p.k !== 'string' || !KINDS.has(p.k) || typeof p.d !== 'string') return undefined;
  if (!Number.isInteger(p.n) || !Number.isInteger(p.i) || (p.n as number) < 1 || (p.n as number) > MAX_PARTS || (p.i as number) < 0 || (p.i as number) >= (p.n as number)) return undefined;
  return { r: p.r, k: p.k as RequestMessageKind, i: p.i as number, n: p.n as number, d: p.d };
}

/** Sends the payloads of a message on `channel` in one statement (one transaction: they arrive together, in order). */
export async function notifyAll(q: Queryable, channel: string, payloads: string[]): Promise<void> {
  await q.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, o) ORDER BY o', [channel, payloads], 'sending a request message');
}
