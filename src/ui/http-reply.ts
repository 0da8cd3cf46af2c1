import type { ServerResponse } from 'node:http';
import { ErrorCodes, isTtjError, toTtjError } from '../errors.js';

/** Sends `value` as JSON (never cached: it describes a journal that may grow). */
export function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(body);
}

/** The HTTP status for a failure: 400 for bad input, 404 for a point not in the journal, 409 when busy or locked or for a journal already there, 410 for a pruned point, 500 otherwise. */
function statusFor(code: string): number {
  switch (code) {
    case ErrorCodes.BAD_ARGUMENT:
    case ErrorCodes.BAD_POINT:
      return 400;
    case ErrorCodes.POINT_NOT_FOUND:
    case ErrorCodes.NO_EPOCH:
      return 404;
    case ErrorCodes.PRUNED:
      return 410;
    case ErrorCodes.LOCKED:
    case ErrorCodes.JOURNAL_EXISTS:
      return 409;
    default:
      return 500;
  }
}

/** Sends a failure as `{"error":{"code",...}}` (the `--json` error shape) with its HTTP status. */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = isTtjError(err) ? err : toTtjError(err);
  if (res.headersSent) {
    res.destroy(e);
    return;
  }
  sendJson(res, e.toJSON(), statusFor(e.code));
}

/** Sends a bare status with a one-line text body (403, 404, 405). */
export function sendStatus(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}
