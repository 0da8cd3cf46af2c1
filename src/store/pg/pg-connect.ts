/**
 * Connections to a PostgreSQL journal store: a small pool for reads (and a writer's
 * reads), each bounded by the location's timeout, and errors converted at one place.
 */
import pg from 'pg';
import { toStoreError } from './pg-errors.js';
import type { PgLocation } from './pg-location.js';

/** Connections a store's pool keeps at most (reads of blocks run this many at once). */
export const POOL_SIZE = 4;

/** The `pg` client settings of a location: its connection string, the timeouts, keep-alive and a name in pg_stat_activity. */
function clientConfig(loc: PgLocation, command: string): pg.ClientConfig {
  return {
    connectionString: loc.connectionString,
    // Client side: a stalled server (SIGSTOP, a dead network) fails the statement after this.
    query_timeout: loc.timeoutMs,
    connectionTimeoutMillis: loc.timeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5000,
    application_name: `${command} (pid ${process.pid})`.slice(0, 63),
  };
}

/** A pool for the location; idle connections that die are dropped quietly (the next query reconnects). */
export function makePool(loc: PgLocation, command: string): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(loc, command), max: POOL_SIZE, idleTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A connected client of its own (a writer's session, a LISTEN session); one that
 * errors later is marked so the owner can replace it.
 * @throws TtjError STORE_UNAVAILABLE, STORE_TIMEOUT, PERMISSION, NOT_A_JOURNAL (no such database).
 */
export async function connectClient(loc: PgLocation, command: string): Promise<pg.Client & { broken?: boolean }> {
  const c: pg.Client & { broken?: boolean } = new pg.Client(clientConfig(loc, command));
  c.on('error', () => (c.broken = true));
  try {
    await c.connect();
  } catch (e) {
    c.broken = true;
    await c.end().catch(() => undefined);
    throw toStoreError(e, loc.display, 'connecting');
  }
  c.on('end', () => (c.broken = true));
  return c;
}

/** Ends a client without waiting on a server that may be gone or stalled. */
export async function dropClient(c: pg.Client): Promise<void> {
  const conn = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
  conn?.stream?.destroy();
  await c.end().catch(() => undefined);
}
