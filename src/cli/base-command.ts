import { stripVTControlCharacters } from 'node:util';
import { Command, Errors } from '@oclif/core';
import { ErrorCodes, isTtjError, TtjError, toTtjError, type ErrorCode } from '../errors.js';

/** Process exit code for each kind of failure (documented in docs/cli.md). */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.BAD_ARGUMENT:
    case ErrorCodes.BAD_POINT:
      return 2;
    case ErrorCodes.CORRUPT_EVENT:
    case ErrorCodes.CORRUPT_BLOB:
    case ErrorCodes.CORRUPT_STORE:
    case ErrorCodes.STATE_ROOT_MISMATCH:
    case ErrorCodes.BAD_SIGNATURE:
    case ErrorCodes.HEAD_NOT_FOUND:
      return 3;
    case ErrorCodes.LOCKED:
    case ErrorCodes.WRONG_EXPECTED_HEAD:
      return 4;
    case ErrorCodes.NO_SPACE:
      return 5;
    case ErrorCodes.PERMISSION:
    case ErrorCodes.READ_ONLY:
      return 6;
    case ErrorCodes.UNSUPPORTED_VERSION:
      return 7;
    case ErrorCodes.STORE_UNAVAILABLE:
    case ErrorCodes.STORE_TIMEOUT:
      return 8;
    case ErrorCodes.DIVERGED:
    case ErrorCodes.FORKED:
    case ErrorCodes.AHEAD:
    case ErrorCodes.KEY_MISMATCH:
      return 9;
    case ErrorCodes.PASSWORD_REQUIRED:
    case ErrorCodes.BAD_PASSWORD:
      return 10;
    default:
      return 1;
  }
}

/**
 * Base of every ttj command: `--json` on all of them (the command's return value is
 * the JSON output), and every failure reported as a TtjError with a stable code:
 * `{"error":{"code":...,"message":...}}` on stdout with --json, one line on stderr
 * otherwise, and a non-zero exit.
 */
export abstract class TtjCommand<T> extends Command {
  static override enableJsonFlag = true;

  /** True when progress may be drawn (a terminal, and not --json). */
  protected get interactive(): boolean {
    return !this.jsonEnabled() && !!process.stderr.isTTY;
  }

  abstract override run(): Promise<T>;

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    let e: TtjError;
    if (isTtjError(err)) e = err;
    // oclif's parse errors (missing or unexpected arguments, bad flag values) are all CLIErrors.
    else if (err instanceof Errors.CLIError) {
      e = new TtjError(ErrorCodes.BAD_ARGUMENT, parseErrorMessage(err.message), {}, { cause: err });
    } else e = toTtjError(err);
    if (this.jsonEnabled()) this.logJson(e.toJSON());
    else process.stderr.write(`ttj: ${e.message} [${e.code}]\n`);
    process.exitCode = exitCodeFor(e.code);
    throw e;
  }
}

/** Parses repeated `NAME=FILE` flags. */
export function parseNamed(values: string[] | undefined, flag: string): { name: string; path: string }[] {
  return (values ?? []).map((v) => {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag} takes NAME=FILE, got ${JSON.stringify(v)}`);
    return { name: v.slice(0, i), path: v.slice(i + 1) };
  });
}

/** An oclif parse error's message on one line: its lines joined, without colours or the help hint. */
function parseErrorMessage(message: string): string {
  return stripVTControlCharacters(message)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^See more help with/.test(l))
    .join(' ')
    .replace(/^Error: /, '');
}
