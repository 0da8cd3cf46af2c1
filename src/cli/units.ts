import { ErrorCodes, TtjError } from '../errors.js';

/** Parses a DURATION into milliseconds: `500ms`, `2s`, `1.5m` (minutes), `1h`, `7d`, `2w`, or a plain number of seconds. */
export function parseDuration(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(s.trim());
  if (!m) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag}: ${JSON.stringify(s)} is not a duration (e.g. 500ms, 2s, 1m)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000 }[m[2] ?? 's']!;
  return Math.round(n * unit);
}

/** Parses a SIZE: `256M`, `1G`, `65536K`, or bytes. */
export function parseSize(s: string, flag: string): number {
  const m = /^(\d+)([KMGT]i?B?)?$/i.exec(s.trim());
  if (!m) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag}: ${JSON.stringify(s)} is not a size (e.g. 256M, 1G)`);
  const mult = m[2] ? 1024 ** ('KMGT'.indexOf(m[2][0]!.toUpperCase()) + 1) : 1;
  return Number(m[1]) * mult;
}

/** Parses a byte offset or address: decimal, `0x` hex, or a SIZE (`64K`). */
export function parseOffset(s: string, flag: string): number {
  const t = s.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : parseSize(t, flag);
  if (!Number.isSafeInteger(n)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag}: ${JSON.stringify(s)} is too large`, { flag, actual: s });
  return n;
}
