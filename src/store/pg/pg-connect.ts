/**
 * Connections to a PostgreSQL journal store: a small pool for reads (and a writer's
 * reads), each bounded by the location's timeout, and errors converted at one place.
 */
import pg from 'pg';
import { toStoreError } from './pg-errors.js';
import type { PgLocation } from './pg-location.js';

/** Connections a store's pool keeps at most (reads of blocks run this many at once). */
export const POOL_SIZE = 4;
/**
 * How long closing a connection waits for the server to end it before cutting it: a
 * stalled server (SIGSTOP, a dead network) never does, and a process that waited would
 * never exit.
 */
const CLOSE_WAIT_MS = 1000;

/** The clients each pool has open (by its 'connect' and 'remove' events), to cut those a closing pool cannot end. */
const poolClients = new WeakMap<pg.Pool, Set<pg.PoolClient>>();

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
  const clients = new Set<pg.PoolClient>();
  poolClients.set(pool, clients);
  pool.on('connect', (c) => clients.add(c));
  pool.on('remove', (c) => clients.delete(c));
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
  cutStream(c);
  await c.end().catch(() => undefined);
}

/** Destroys a client's socket (its pending `end()` then resolves). */
function cutStream(c: pg.Client): void {
  const conn = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
  conn?.stream?.destroy();
}

/** True when `p` settles within `ms` (the timer is cleared as soon as it does). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends a client: politely (Terminate, then the server closes) when the server answers
 * within {@link CLOSE_WAIT_MS}, else by cutting the connection. A broken client is cut at once.
 */
export async function closeClient(c: pg.Client & { broken?: boolean }): Promise<void> {
  if (c.broken) return dropClient(c);
  if (!(await settlesWithin(c.end(), CLOSE_WAIT_MS))) await dropClient(c);
}

/** Ends a pool, cutting the connections the server does not end within {@link CLOSE_WAIT_MS} (pool.end() alone resolves while they hang on). */
export async function closePool(pool: pg.Pool): Promise<void> {
  const clients = poolClients.get(pool) ?? new Set();
  const ended = pool.end().catch(() => undefined);
  const gone = new Promise<void>((r) => {
    const check = () => (clients.size ? undefined : r());
    pool.on('remove', check);
    check();
  });
  await settlesWithin(Promise.all([ended, gone]), CLOSE_WAIT_MS);
  for (const c of clients) cutStream(c);
  clients.clear();
}
