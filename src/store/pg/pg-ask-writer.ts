/**
 * The requester's end of the request channel of a PostgreSQL journal (docs/stores.md,
 * "Requests to the writer"): listen on a reply channel of its own, send the request on the
 * journal's request channel, wait for the writer to accept it (up to the location's
 * timeout: else TTJ_LOCKED, a writer that does not answer), then for its result while the
 * session that accepted it still holds the writer lock (else TTJ_WRITER_GONE). Only answers
 * sent by a session holding the journal's writer lock count.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ErrorCodes, TtjError, type ErrorCode } from '../../errors.js';
import { closeClient, connectClient } from './pg-connect.js';
import { toStoreError } from './pg-errors.js';
import { parsePgLocation, type PgLocation } from './pg-location.js';
import { queryable, type Queryable } from './pg-query.js';
import { encodeMessage, MessageAssembler, notifyAll, requestChannel, type RequestMessage } from './pg-request-wire.js';
import { holdsWriterLock } from './pg-writer-session.js';

/** How often the requester checks that the writer that accepted its request still holds the lock. */
const ALIVE_CHECK_MS = 1000;
/** After the writer's session is seen gone: how long answers it sent before going may still take to arrive. */
const LAST_WORD_MS = 300;

/**
 * Runs `name` with `args` in the writer of the PostgreSQL journal at `location` and returns its result.
 * @throws TtjError LOCKED (no writer accepts within the location's timeout), WRITER_GONE (its session ended before it answered),
 *   PERMISSION (this role may not write the journal), NOT_A_JOURNAL, STORE_*, and what the request throws.
 */
export async function askPgWriter(location: string, name: string, args: unknown): Promise<unknown> {
  const loc = parsePgLocation(location);
  const c = await connectClient(loc, 'ttj (asking the writer)');
  try {
    const q = queryable(c, loc.display);
    const journalId = await journalIdOf(q, loc);
    const id = randomBytes(8).toString('hex');
    const reply = `ttj_reply_${id}`;
    const inbox = new Inbox(c, reply);
    await q.query(`LISTEN ${reply}`, [], 'listening for the answer');
    await notifyAll(q, requestChannel(journalId), encodeMessage(id, 'request', { name, args, reply }));
    const first = await inbox.next(loc.timeoutMs, (m) => fromWriterOrGone(q, journalId, m));
    if (!first) {
      throw new TtjError(
        ErrorCodes.LOCKED,
        `another process writes the journal ${loc.display} and did not take the request within ${loc.timeoutMs} ms (a ttj writer that does not serve requests, or one stopped): stop it and run this again`,
        {
          location: loc.display,
        },
      );
    }
    const answer = first.kind === 'accepted' ? await waitForAnswer(inbox, q, journalId, first.senderPid, loc) : first;
    if (answer.kind === 'error') {
      const e = answer.body as { code?: ErrorCode; message?: string; details?: object };
      throw new TtjError(e.code ?? ErrorCodes.INTERNAL, `journal writer: ${e.message ?? 'failed'}`, e.details ?? {});
    }
    return answer.body;
  } catch (e) {
    throw toStoreError(e, loc.display, `asking the writer to run ${name}`);
  } finally {
    await closeClient(c);
  }
}

/** The result or error of an accepted request, while the session that accepted it holds the writer lock. */
async function waitForAnswer(inbox: Inbox, q: Queryable, journalId: number, writerPid: number, loc: PgLocation): Promise<RequestMessage> {
  const fromWriter = async (m: RequestMessage) => m.senderPid === writerPid && m.kind !== 'accepted';
  for (;;) {
    const m = await inbox.next(ALIVE_CHECK_MS, fromWriter);
    if (m) return m;
    if (await holdsWriterLock(q, journalId, writerPid)) continue;
    // Answers sent before the session ended may still be on their way: a statement lets them in.
    await new Promise((r) => setTimeout(r, LAST_WORD_MS));
    await q.query('SELECT 1', [], 'listening for the answer');
    const last = await inbox.next(0, fromWriter);
    if (last) return last;
    throw new TtjError(ErrorCodes.WRITER_GONE, `the writer of ${loc.display} went away before it answered (its session, server pid ${writerPid}, no longer holds the writer lock); run this again`);
  }
}

/** How long an acceptance from a session not holding the writer lock is watched for that session's end. */
const GONE_WAIT_MS = 2000;

/**
 * Whether a first message counts: sent by the session holding the writer lock, or an
 * acceptance from a session that ended (within {@link GONE_WAIT_MS}) without holding it
 * any more: a writer that went away right after accepting (its lock released before this
 * looked). {@link waitForAnswer} then reports TTJ_WRITER_GONE.
 */
async function fromWriterOrGone(q: Queryable, journalId: number, m: RequestMessage): Promise<boolean> {
  if (await holdsWriterLock(q, journalId, m.senderPid)) return true;
  if (m.kind !== 'accepted') return false;
  for (const deadline = Date.now() + GONE_WAIT_MS; Date.now() < deadline;) {
    const alive = await q.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [m.senderPid], 'looking for the writer');
    if (!alive.length) return true;
    if (await holdsWriterLock(q, journalId, m.senderPid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** The journal's id in its database. */
async function journalIdOf(q: Queryable, loc: PgLocation): Promise<number> {
  const rows = await q.query(`SELECT id FROM ttj_journal WHERE name = $1`, [loc.journal], 'looking for the journal');
  if (!rows.length) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `no journal at ${loc.display}`, { location: loc.display });
  return Number(rows[0]!.id);
}

/** The messages arriving on the reply channel, put together, in order. */
class Inbox {
  private readonly assembler = new MessageAssembler();
  private readonly messages: RequestMessage[] = [];
  private wake: (() => void) | undefined;

  constructor(c: pg.Client, channel: string) {
    c.on('notification', (n) => {
      if (n.channel !== channel || n.payload === undefined) return;
      const m = this.assembler.feed(n.payload, n.processId);
      if (!m) return;
      this.messages.push(m);
      this.wake?.();
    });
  }

  /** The next message `wanted` takes (others are dropped), or undefined after `ms`. */
  async next(ms: number, wanted: (m: RequestMessage) => Promise<boolean>): Promise<RequestMessage | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.messages.length) {
        const m = this.messages.shift()!;
        if (await wanted(m)) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
