/**
 * Every failure ttj reports is a {@link TtjError} with a stable string `code`.
 * Tests and scripts match on the code, never on the message. LevelDB, zstd, QEMU and
 * file-system errors are converted at one boundary ({@link toTtjError}).
 */

/** The stable error codes. Adding one is fine; renaming one breaks users. */
export const ErrorCodes = {
  /** A command-line argument or API argument is malformed. */
  BAD_ARGUMENT: 'TTJ_BAD_ARGUMENT',
  /** A POINT (`head`, `epoch:N`, `frame:N`, `seq:N`, `time:ISO`, `label:TEXT`) does not parse. */
  BAD_POINT: 'TTJ_BAD_POINT',
  /** A POINT parses but names nothing in this journal. */
  POINT_NOT_FOUND: 'TTJ_POINT_NOT_FOUND',
  /** The journal has no committed epoch yet (nothing to fold or bind a frame to). */
  NO_EPOCH: 'TTJ_NO_EPOCH',
  /** An input file does not exist or cannot be read. */
  FILE_NOT_FOUND: 'TTJ_FILE_NOT_FOUND',
  /** A memory image or disk image has the wrong size, or is not a whole number of pages. */
  SIZE_MISMATCH: 'TTJ_SIZE_MISMATCH',
  /** A frame is not a PNG image. */
  NOT_PNG: 'TTJ_NOT_PNG',
  /** The directory exists but is not a ttj journal. */
  NOT_A_JOURNAL: 'TTJ_NOT_A_JOURNAL',
  /** The journal (its marker or header) is of a format version this ttj cannot read. */
  UNSUPPORTED_VERSION: 'TTJ_UNSUPPORTED_VERSION',
  /** The journal already exists (init). */
  JOURNAL_EXISTS: 'TTJ_JOURNAL_EXISTS',
  /** Another process holds the journal's writer lock. */
  LOCKED: 'TTJ_LOCKED',
  /** An append was made against a head that is no longer the head (optimistic concurrency). */
  WRONG_EXPECTED_HEAD: 'TTJ_WRONG_EXPECTED_HEAD',
  /** An event does not decode, or its hash chain / sequence number is broken. */
  CORRUPT_EVENT: 'TTJ_CORRUPT_EVENT',
  /** A stored blob is missing, does not decompress, or does not hash to its address. */
  CORRUPT_BLOB: 'TTJ_CORRUPT_BLOB',
  /** A folded state does not hash to the state root its epoch committed. */
  STATE_ROOT_MISMATCH: 'TTJ_STATE_ROOT_MISMATCH',
  /** The store's own files are damaged (LevelDB reports corruption or an I/O error). */
  CORRUPT_STORE: 'TTJ_CORRUPT_STORE',
  /** A length-delimited event stream given to `append --events` is invalid. */
  BAD_EVENT_STREAM: 'TTJ_BAD_EVENT_STREAM',
  /** The store is read-only (a reader, a read-only export), or the file system refuses writes (EROFS). */
  READ_ONLY: 'TTJ_READ_ONLY',
  /** The file system is full, or a quota is reached (ENOSPC, EDQUOT); nothing of the failed write is kept. */
  NO_SPACE: 'TTJ_NO_SPACE',
  /** The process may not read or write a file or directory (EACCES, EPERM). */
  PERMISSION: 'TTJ_PERMISSION',
  /** A path that must be a directory (a journal, a parent directory) is a file or passes through one (ENOTDIR). */
  NOT_A_DIRECTORY: 'TTJ_NOT_A_DIRECTORY',
  /** The writer went away while a reader was talking to it. */
  WRITER_GONE: 'TTJ_WRITER_GONE',
  /** QEMU is not installed or too old. */
  QEMU_MISSING: 'TTJ_QEMU_MISSING',
  /** QEMU failed or died. */
  QEMU_FAILED: 'TTJ_QEMU_FAILED',
  /** A QMP command returned an error. */
  QMP_ERROR: 'TTJ_QMP_ERROR',
  /** The recorded device state cannot be loaded by the installed QEMU. */
  INCOMPATIBLE_VM: 'TTJ_INCOMPATIBLE_VM',
  /** An NBD protocol error. */
  NBD_ERROR: 'TTJ_NBD_ERROR',
  /** Push: the destination's chain and the source's differ from a seq on (`seq`: the first that differs); nothing was written. */
  DIVERGED: 'TTJ_DIVERGED',
  /** Push: one journal is a fork of the other (`seq`: the parent's seq it forked at), not a copy; nothing was written. */
  FORKED: 'TTJ_FORKED',
  /** Push: the destination holds every event of the source and more (`seq`: the source's head); nothing was written. */
  AHEAD: 'TTJ_AHEAD',
  /** Something failed that ttj did not expect; a bug. */
  INTERNAL: 'TTJ_INTERNAL',
} as const;

/** One of {@link ErrorCodes}' values. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Domain fields an error may carry; all optional. */
export interface TtjErrorDetails {
  /** The sequence number of the event concerned. */
  seq?: number;
  /** The expected value (a hash in hex, a size, a head seq). */
  expected?: string | number;
  /** The actual value found. */
  actual?: string | number;
  /** A file or journal path concerned. */
  path?: string;
  /** Anything else worth machine-reading. */
  [key: string]: unknown;
}

/** The one error type of ttj. `code` is stable; `message` is for people. */
export class TtjError extends Error {
  readonly code: ErrorCode;
  readonly details: TtjErrorDetails;

  constructor(code: ErrorCode, message: string, details: TtjErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TtjError';
    this.code = code;
    this.details = details;
  }

  get seq(): number | undefined {
    return this.details.seq;
  }

  /** The `--json` form of the error. */
  toJSON(): { error: { code: ErrorCode; message: string } & TtjErrorDetails } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** True when `e` is a TtjError, optionally with the given code. */
export function isTtjError(e: unknown, code?: ErrorCode): e is TtjError {
  return e instanceof TtjError && (code === undefined || e.code === code);
}

/** strerror texts LevelDB puts in its I/O error messages, and their errno names. */
const LEVEL_ERRNO_TEXTS: [string, string][] = [
  ['Read-only file system', 'EROFS'],
  ['Permission denied', 'EACCES'],
  ['Operation not permitted', 'EPERM'],
  ['No space left on device', 'ENOSPC'],
  ['Disk quota exceeded', 'EDQUOT'],
  ['Not a directory', 'ENOTDIR'],
];

/**
 * The errno name behind a LevelDB error (`IO error: PATH: Read-only file system`),
 * when it is one the environment caused (a read-only, full or foreign file system)
 * rather than damage to the index.
 */
export function levelErrno(e: unknown): string | undefined {
  for (let c = e as { message?: unknown; cause?: unknown } | undefined, depth = 0; c && depth < 4; c = c.cause as typeof c, depth++) {
    const msg = typeof c.message === 'string' ? c.message : '';
    if (!msg.startsWith('IO error')) continue;
    const hit = LEVEL_ERRNO_TEXTS.find(([text]) => msg.endsWith(text));
    if (hit) return hit[1];
  }
  return undefined;
}

/** The TtjError for an errno the environment caused, or undefined for another errno. */
function fromErrno(errno: string | undefined, e: unknown, what: string, path: string | undefined): TtjError | undefined {
  const details = { path, errno };
  switch (errno) {
    case 'ENOENT':
      return new TtjError(ErrorCodes.FILE_NOT_FOUND, `${what}no such file: ${path ?? ''}`, { path }, { cause: e });
    case 'EISDIR':
      return new TtjError(ErrorCodes.FILE_NOT_FOUND, `${what}cannot read ${path ?? ''}: it is a directory`, details, { cause: e });
    case 'EACCES':
    case 'EPERM':
      return new TtjError(ErrorCodes.PERMISSION, `${what}permission denied: ${path ?? ''} (${errno})`, details, { cause: e });
    case 'EROFS':
      return new TtjError(ErrorCodes.READ_ONLY, `${what}${path ?? 'the file'} is on a read-only file system`, details, { cause: e });
    case 'ENOSPC':
    case 'EDQUOT':
      return new TtjError(ErrorCodes.NO_SPACE, `${what}no space left on the file system of ${path ?? 'the journal'} (${errno})`, details, { cause: e });
    case 'ENOTDIR':
      return new TtjError(ErrorCodes.NOT_A_DIRECTORY, `${what}${path ?? 'a path'} is not a directory, or passes through a file`, details, { cause: e });
    default:
      return undefined;
  }
}

/**
 * The one boundary where foreign errors (node:fs, LevelDB, zstd) become TtjErrors.
 * A TtjError passes through unchanged. Errors the environment causes (a full, read-only
 * or foreign file system) get their own codes; a LevelDB error is CORRUPT_STORE only
 * when it is not one of those.
 */
export function toTtjError(e: unknown, context?: { path?: string; what?: string }): TtjError {
  if (e instanceof TtjError) return e;
  const err = e as NodeJS.ErrnoException & { code?: string };
  const what = context?.what ? `${context.what}: ` : '';
  if (err && typeof err === 'object') {
    const path = context?.path ?? err.path;
    if (typeof err.code === 'string' && err.code.startsWith('LEVEL_')) {
      const env = fromErrno(levelErrno(e), e, what, context?.path);
      if (env) return env;
      const cause = (err as { cause?: { message?: string } }).cause;
      return new TtjError(ErrorCodes.CORRUPT_STORE, `${what}the journal's LevelDB index failed: ${cause?.message ?? err.message}`, { path: context?.path, level: err.code }, { cause: e });
    }
    const env = fromErrno(err.code, e, what, path);
    if (env) return env;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new TtjError(ErrorCodes.INTERNAL, `${what}${msg}`, { path: context?.path }, { cause: e });
}
