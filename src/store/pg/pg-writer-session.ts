/**
 * The writer's session with a PostgreSQL journal store: one connection that holds the
 * journal's writer lock (a session-level advisory lock, released by the server when
 * the session ends, however it ends) and runs every append's transaction.
 */
import type pg from 'pg';
import { ErrorCodes, TtjError } from '../../errors.js';
import { closeClient, connectClient, dropClient } from './pg-connect.js';
import { toStoreError } from './pg-errors.js';
import type { PgLocation } from './pg-location.js';
import type { Queryable } from './pg-query.js';

/** The advisory lock class of journal writer locks (the object id is the journal's id). */
const WRITER_LOCK_CLASS = 0x74746a01;

/** A channel the session listens on, and what it calls with each notification's payload and sender (a server pid). */
interface Listener {
  channel: string;
  onNotice(payload: string, senderPid: number): void;
}

/**
 * One writer's session; {@link reconnect} replaces a lost connection (taking the lock
 * again, and listening again on its channels).
 */
export class PgWriterSession {
  private readonly listeners: Listener[] = [];

  private constructor(
    private readonly loc: PgLocation,
    private readonly journalId: number,
    private readonly command: string,
    private conn: pg.Client & { broken?: boolean },
  ) {}

  /**
   * Connects and takes the journal's writer lock.
   * @param waitMs How long to wait for another session's lock (0: fail at once).
   * @throws TtjError LOCKED naming the holder; STORE_UNAVAILABLE, STORE_TIMEOUT.
   */
  static async acquire(loc: PgLocation, journalId: number, command: string, waitMs = 0): Promise<PgWriterSession> {
    const conn = await connectClient(loc, command);
    try {
      await takeLock(conn, loc, journalId, waitMs);
    } catch (e) {
      await dropClient(conn);
      throw e;
    }
    return new PgWriterSession(loc, journalId, command, conn);
  }

  /** The session's connection (for an append's transaction). */
  get client(): pg.Client {
    return this.conn;
  }

  /** False once the connection errored or ended. */
  get healthy(): boolean {
    return !this.conn.broken;
  }

  /**
   * A new connection in place of a lost one, with the lock taken again (waiting up to
   * the location's timeout for the old session's lock to be released by the server).
   */
  async reconnect(): Promise<void> {
    await dropClient(this.conn);
    const conn = await connectClient(this.loc, this.command);
    try {
      await takeLock(conn, this.loc, this.journalId, this.loc.timeoutMs);
    } catch (e) {
      await dropClient(conn);
      throw e;
    }
    this.conn = conn;
    for (const l of this.listeners) await subscribe(conn, l);
  }

  /**
   * Listens on `channel` (a plain identifier) from this session, now and after every
   * reconnect: what is sent there reaches the session holding the writer lock. Call it
   * between transactions (in the writer's turn).
   * @throws TtjError STORE_UNAVAILABLE, STORE_TIMEOUT.
   */
  async listen(channel: string, onNotice: Listener['onNotice']): Promise<void> {
    const l = { channel, onNotice };
    this.listeners.push(l);
    await subscribe(this.conn, l);
  }

  /**
   * Drops the connection without a word to the server (after a statement timed out: a
   * stalled server would not answer one); the server rolls back its transaction and
   * releases the lock when it sees the connection gone. {@link reconnect} makes a new one.
   */
  async abandon(): Promise<void> {
    this.conn.broken = true;
    await dropClient(this.conn);
  }

  /** Ends the session (the server releases the lock); a server that does not answer is cut off. */
  async close(): Promise<void> {
    await closeClient(this.conn);
  }
}

/** Listens on `l.channel` from `conn`. */
async function subscribe(conn: pg.Client, l: Listener): Promise<void> {
  conn.on('notification', (n) => {
    if (n.channel === l.channel && n.payload !== undefined) l.onNotice(n.payload, n.processId);
  });
  await conn.query(`LISTEN ${l.channel}`);
}

/** True when the session with server pid `pid` holds the writer lock of journal `journalId`. */
export async function holdsWriterLock(q: Queryable, journalId: number, pid: number): Promise<boolean> {
  const rows = await q.query(
    `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2 AND pid = $3 AND granted`,
    [WRITER_LOCK_CLASS, journalId, pid],
    'looking for the writer',
  );
  return rows.length > 0;
}

/** Takes the writer lock on `conn`, trying again until `waitMs` has passed. */
async function takeLock(conn: pg.Client, loc: PgLocation, journalId: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    let got: boolean;
    try {
      got = (await conn.query('SELECT pg_try_advisory_lock($1, $2) AS got', [WRITER_LOCK_CLASS, journalId])).rows[0].got;
    } catch (e) {
      throw toStoreError(e, loc.display, 'taking the writer lock');
    }
    if (got) return;
    if (Date.now() >= deadline) {
      const holder = await lockHolder(conn, journalId).catch(() => undefined);
      const who = holder ? `${holder.application_name || 'a session'} (server pid ${holder.pid}${holder.client_addr ? ` from ${holder.client_addr}` : ''})` : 'another session';
      throw new TtjError(ErrorCodes.LOCKED, `the journal ${loc.display} is being written by ${who}`, { location: loc.display, holder });
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** The session holding a journal's writer lock, from pg_locks and pg_stat_activity. */
async function lockHolder(conn: pg.Client, journalId: number): Promise<{ pid: number; application_name: string; client_addr: string | null } | undefined> {
  const r = await conn.query(
    `SELECT a.pid, a.application_name, a.client_addr::text AS client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.classid = $1::int::oid AND l.objid = $2::int::oid AND l.granted LIMIT 1`,
    [WRITER_LOCK_CLASS, journalId],
  );
  return r.rows[0];
}
