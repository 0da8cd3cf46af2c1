/**
 * A PostgreSQL journal location: `postgres://USER@HOST:PORT/DB?journal=NAME` (or
 * `postgresql://`), with libpq-style parameters such as `host=/run/postgresql` for a
 * unix socket directory, and ttj's own:
 * - `journal=NAME` (required): the journal's name; one database holds many journals.
 * - `timeout=DURATION` (default 30s): how long one statement, a connect or the writer
 *   lock may take before the operation fails with TTJ_STORE_TIMEOUT.
 */
import { ErrorCodes, TtjError } from '../../errors.js';

/** The default bound on one statement, a connect and the wait for the writer lock. */
const DEFAULT_PG_TIMEOUT_MS = 30_000;

/** A parsed PostgreSQL location. */
export interface PgLocation {
  /** The connection string for `pg`, without ttj's own parameters. */
  connectionString: string;
  /** The journal's name. */
  journal: string;
  /** The bound on one statement, a connect and the wait for the writer lock, in ms. */
  timeoutMs: number;
  /** The location without its password, for messages. */
  display: string;
}

/** True when `location` is a PostgreSQL URL. */
export function isPgLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

const JOURNAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Milliseconds of `5s`, `1500ms`, `2m` or a plain number of seconds. */
function parseTimeout(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

/**
 * Parses a PostgreSQL journal location.
 * @throws TtjError BAD_ARGUMENT when it is not a URL, names no journal or a bad one, or has a bad timeout.
 */
export function parsePgLocation(location: string): PgLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch (e) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `not a PostgreSQL URL: ${location}`, { location }, { cause: e });
  }
  const journal = url.searchParams.get('journal');
  if (!journal) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `a PostgreSQL journal location names its journal: ${redact(url)} needs ?journal=NAME`, { location: redact(url) });
  if (!JOURNAL_NAME.test(journal)) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `journal name ${JSON.stringify(journal)} must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter or digit)`, { journal });
  }
  const t = url.searchParams.get('timeout');
  const timeoutMs = t === null ? DEFAULT_PG_TIMEOUT_MS : parseTimeout(t);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `timeout=${t} is not a duration (5s, 1500ms, 2m)`, { timeout: t });
  url.searchParams.delete('journal');
  url.searchParams.delete('timeout');
  return { connectionString: url.toString(), journal, timeoutMs, display: redact(new URL(location)) };
}

/** The URL without its password. */
function redact(url: URL): string {
  const u = new URL(url.toString());
  if (u.password) u.password = '***';
  return u.toString();
}
