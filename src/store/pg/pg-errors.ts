/**
 * The one boundary where errors of the `pg` client and the PostgreSQL server become
 * TtjErrors: an unreachable or dropped server is STORE_UNAVAILABLE, a statement or
 * connect that outlives the location's timeout is STORE_TIMEOUT, a standby (read-only
 * server) is READ_ONLY, refused credentials are PERMISSION, a row that collides with
 * one already stored (an event at a taken seq) is CORRUPT_STORE.
 */
import { ErrorCodes, TtjError } from '../../errors.js';

/** SQLSTATE classes and codes that mean "the server or the connection went away". */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004']);
/** Node socket errors that mean the same. */
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTCONN']);

/** True when `e` (a pg or socket error) says the connection or server is gone: an operation's outcome may then be unknown. */
export function isConnectionLoss(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  if (!err || typeof err !== 'object') return false;
  if (err instanceof TtjError) return err.code === ErrorCodes.STORE_UNAVAILABLE || err.code === ErrorCodes.STORE_TIMEOUT;
  if (err.code && (UNAVAILABLE_STATES.has(err.code) || UNAVAILABLE_ERRNOS.has(err.code))) return true;
  const m = err.message ?? '';
  return /Connection terminated|Client has encountered a connection error|Connection ended|not queryable|timeout/i.test(m);
}

/** True when `e` is a stall: a TtjError STORE_TIMEOUT, or a client-side timeout of `pg` (a statement or a connect). The server is then not asked again. */
export function isTimeout(e: unknown): boolean {
  if (e instanceof TtjError) return e.code === ErrorCodes.STORE_TIMEOUT;
  const err = (e ?? {}) as { message?: string; code?: string };
  return /Query read timeout|timeout exceeded when trying to connect|Connection terminated due to connection timeout|timeout expired/i.test(err.message ?? '') || err.code === '57014';
}

/**
 * The TtjError for a failure of `what` against the store at `display` (a TtjError passes through).
 * @param display The location without its password.
 */
export function toStoreError(e: unknown, display: string, what: string): TtjError {
  if (e instanceof TtjError) return e;
  const err = (e ?? {}) as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  const details = { location: display, sqlstate: err.code };
  if (isTimeout(err)) return new TtjError(ErrorCodes.STORE_TIMEOUT, `${what}: the PostgreSQL server at ${display} did not answer in time (${msg})`, details, { cause: e });
  if (isConnectionLoss(err)) return new TtjError(ErrorCodes.STORE_UNAVAILABLE, `${what}: the PostgreSQL server at ${display} cannot be reached (${msg})`, details, { cause: e });
  switch (err.code) {
    case '25006': // read_only_sql_transaction: a standby
      return new TtjError(ErrorCodes.READ_ONLY, `${what}: the PostgreSQL server at ${display} is read-only (a standby?)`, details, { cause: e });
    case '28P01':
    case '28000':
    case '42501':
      return new TtjError(ErrorCodes.PERMISSION, `${what}: PostgreSQL refused: ${msg}`, details, { cause: e });
    case '3D000':
      return new TtjError(ErrorCodes.NOT_A_JOURNAL, `${what}: ${msg} (${display})`, details, { cause: e });
    case '23505': // a row already there: an event at a seq past the head (a writer outside ttj), or a blob row twice
      return new TtjError(ErrorCodes.CORRUPT_STORE, `${what}: the journal holds a row this append would write (${msg}); ttj repair rebuilds the head from the events`, details, { cause: e });
    case '53100':
      return new TtjError(ErrorCodes.NO_SPACE, `${what}: the PostgreSQL server at ${display} is out of disk space`, details, { cause: e });
    default:
      return new TtjError(ErrorCodes.INTERNAL, `${what}: PostgreSQL: ${msg}`, details, { cause: e });
  }
}
