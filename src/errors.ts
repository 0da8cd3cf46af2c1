/**
 * Every failure ttj reports is a {@link TtjError} with a stable string `code`.
 * Tests and scripts match on the code, never on the message. LevelDB, zstd, QEMU and
 * file-system errors are converted at one boundary ({@link toTtjError}).
 */

import type { RecordSummary } from './capture/record-vm.js';
import type { VerifyReport } from './journal/verify.js';
import type { LockHolder } from './store/writer-lock.js';

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
  /** A remote store (a PostgreSQL server) cannot be reached, or the connection dropped; nothing unacknowledged is assumed written. */
  STORE_UNAVAILABLE: 'TTJ_STORE_UNAVAILABLE',
  /** A remote store did not answer within its timeout (a stalled server); the operation was abandoned. */
  STORE_TIMEOUT: 'TTJ_STORE_TIMEOUT',
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
  /** `verify --trust`: an event is signed by another key, its signature does not hold, or events after the last signature are unsigned (`seq`: the first such event). */
  BAD_SIGNATURE: 'TTJ_BAD_SIGNATURE',
  /** `verify --head`: no event of the journal has the head hash given, so the journal does not extend that head. */
  HEAD_NOT_FOUND: 'TTJ_HEAD_NOT_FOUND',
  /** The point names history a prune dropped (`ttj prune`): its blobs are gone, so it cannot be folded. */
  PRUNED: 'TTJ_PRUNED',
  /** An external tool an export runs (qemu-img, ffmpeg) is missing or failed. */
  TOOL_FAILED: 'TTJ_TOOL_FAILED',
  /** The journal is encrypted and no password was given (`TTJ_PASSWORD` or `--password-file`); nothing was read or changed. */
  PASSWORD_REQUIRED: 'TTJ_PASSWORD_REQUIRED',
  /** The password given does not open the encrypted journal's key; nothing was read or changed. */
  BAD_PASSWORD: 'TTJ_BAD_PASSWORD',
  /** Push: one journal is encrypted and the other is not, or they are encrypted with different master keys; nothing was written. */
  KEY_MISMATCH: 'TTJ_KEY_MISMATCH',
  /** Something failed that ttj did not expect; a bug. */
  INTERNAL: 'TTJ_INTERNAL',
} as const;

/** One of {@link ErrorCodes}' values. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The details of the errors the environment causes (a file system refusing or failing). */
export interface FileSystemDetails {
  /** The file or directory concerned. */
  path?: string;
  /** The errno name behind it (`ENOSPC`, `EROFS`, ...). */
  errno?: string;
  /** For a remote store: its location (without password) and the server's SQLSTATE. */
  location?: string;
  sqlstate?: string;
}

/** A remote store concerned by an error: its location (without password) and the server's SQLSTATE, when it sent one. */
interface StoreDetails {
  location: string;
  sqlstate?: string;
}

/**
 * The machine-readable fields each error code carries (its `details`), beside the
 * fields every error may carry ({@link CommonErrorDetails}). They are printed in the
 * `--json` error object next to `code` and `message` (docs/cli.md, "Errors").
 */
export interface ErrorDetails {
  [ErrorCodes.BAD_ARGUMENT]: {
    /** The flag concerned (without `--`). */
    flag?: string;
    /** The value given. */
    actual?: number | string;
    /** The least value allowed. */
    min?: number;
    /** The greatest value allowed. */
    max?: number;
    /** The point, path, disk name, journal location or cache mode concerned. */
    point?: string;
    path?: string;
    disk?: string;
    location?: string;
    mode?: string;
    /** A PostgreSQL location's journal name or timeout parameter. */
    journal?: string;
    timeout?: string | null;
  };
  [ErrorCodes.BAD_POINT]: {
    /** The POINT given. */
    point: string;
  };
  [ErrorCodes.POINT_NOT_FOUND]: {
    /** The POINT given. */
    point: string;
  };
  [ErrorCodes.NO_EPOCH]: {
    /** The POINT given, when one was. */
    point?: string;
  };
  [ErrorCodes.FILE_NOT_FOUND]: FileSystemDetails;
  [ErrorCodes.SIZE_MISMATCH]: {
    /** The image concerned. */
    path?: string;
    /** The size it must have (bytes). */
    expected?: number;
    /** The size it has (bytes). */
    actual: number;
  };
  [ErrorCodes.NOT_PNG]: {
    /** The frame concerned. */
    path: string;
  };
  [ErrorCodes.NOT_A_JOURNAL]: {
    /** The directory concerned. */
    path?: string;
    /** The remote location concerned. */
    location?: string;
    sqlstate?: string;
  };
  [ErrorCodes.UNSUPPORTED_VERSION]: {
    /** The journal (a directory), or its remote location. */
    path?: string;
    location?: string;
    /** The format version this ttj reads. */
    expected: number;
    /** The version found (as found in the marker file: a string there). */
    actual: number | string;
  };
  [ErrorCodes.JOURNAL_EXISTS]: {
    /** The journal. */
    path: string;
  };
  [ErrorCodes.LOCKED]: {
    /** The journal (a directory), or its remote location. */
    path?: string;
    location?: string;
    /** Who holds the writer lock, when its lock file (or the server) says. */
    holder?: LockHolder | { pid: number; application_name: string; client_addr: string | null };
  };
  [ErrorCodes.WRONG_EXPECTED_HEAD]: {
    /** The head seq the append expected. */
    expected: number;
    /** The head seq the store has. */
    actual: number;
  };
  [ErrorCodes.CORRUPT_EVENT]: {
    /** The seq or hash (hex) expected. */
    expected?: number | string;
    /** The seq or hash (hex) found. */
    actual?: number | string;
  };
  [ErrorCodes.CORRUPT_BLOB]: {
    /** The blob's address (hex). */
    addr?: string;
    /** The hash (hex) or size expected. */
    expected?: number | string;
    /** The hash (hex) or size found. */
    actual?: number | string;
    /** The pack file and block offset concerned. */
    pack?: number;
    offset?: number;
    /** The pack file's path. */
    path?: string;
    /** The block row concerned (PostgreSQL store). */
    block?: number;
  };
  [ErrorCodes.STATE_ROOT_MISMATCH]: {
    /** The epoch commit or keyframe event concerned. */
    seq: number;
    /** The state root (hex) committed. */
    expected?: string;
    /** The state root (hex) the state hashes to. */
    actual?: string;
  };
  [ErrorCodes.CORRUPT_STORE]: {
    /** The journal. */
    path?: string;
    /** LevelDB's own error code (`LEVEL_CORRUPTION`, ...). */
    level?: string;
    /** The index key concerned. */
    key?: string;
    /** The POINT concerned. */
    point?: string;
    /** The seq or epoch the index should name. */
    expected?: number;
    /** The seq or epoch it names. */
    actual?: number;
    /** The remote location concerned, and the server's SQLSTATE. */
    location?: string;
    sqlstate?: string;
  };
  [ErrorCodes.BAD_EVENT_STREAM]: {
    /** The index of the event in the stream. */
    index?: number;
    /** The blob concerned (hex). */
    addr?: string;
    /** The hash (hex) or size expected. */
    expected?: number | string;
    /** The size found. */
    actual?: number;
  };
  [ErrorCodes.READ_ONLY]: FileSystemDetails;
  [ErrorCodes.NO_SPACE]: FileSystemDetails;
  [ErrorCodes.PERMISSION]: FileSystemDetails;
  [ErrorCodes.NOT_A_DIRECTORY]: FileSystemDetails;
  [ErrorCodes.DIVERGED]: {
    /** The first seq at which the two chains differ (0: different journals). */
    seq: number;
  };
  [ErrorCodes.FORKED]: {
    /** The parent's seq the fork started from. */
    seq: number;
    /** The fork's location and its parent's. */
    fork: string;
    parent: string;
  };
  [ErrorCodes.AHEAD]: {
    /** The source's head seq (the destination holds it and more). */
    seq: number;
    /** The destination's head seq. */
    actual: number;
  };
  [ErrorCodes.STORE_UNAVAILABLE]: StoreDetails;
  [ErrorCodes.STORE_TIMEOUT]: StoreDetails;
  [ErrorCodes.WRITER_GONE]: object;
  [ErrorCodes.QEMU_MISSING]: {
    /** The QEMU binary looked for. */
    binary: string;
    /** The least QEMU version ttj needs. */
    expected?: string;
    /** The version installed. */
    actual?: string;
  };
  [ErrorCodes.QEMU_FAILED]: {
    /** The tail of QEMU's stderr. */
    stderr?: string;
    /** QEMU's arguments, when it failed to start. */
    args?: string[];
    /** QEMU's exit code, when it exited. */
    exitCode?: number | null;
    /** The QMP command that was in flight. */
    command?: string;
    /** The QMP socket or RAM file concerned. */
    path?: string;
    /** The bytes expected and read (a RAM file read short). */
    expected?: number;
    actual?: number;
    /** What was recorded before QEMU died (`ttj record`). */
    summary?: RecordSummary;
  };
  [ErrorCodes.BAD_SIGNATURE]: {
    /** The first event that is unsigned, signed by another key, or whose signature does not hold. */
    seq: number;
    /** Hex fingerprint of the key that signed it, when it is signed. */
    signer?: string;
    /** Hex fingerprint of the trusted key. */
    trusted?: string;
  };
  [ErrorCodes.HEAD_NOT_FOUND]: {
    /** The head hash given (hex). */
    hash: string;
    /** The journal's head seq: no event up to it has that hash. */
    actual: number;
  };
  [ErrorCodes.PRUNED]: {
    /** The POINT asked for. */
    point: string;
    /** The dropped epoch it needs. */
    epoch: number;
    /** Seq of the prune event that dropped it. */
    seq: number;
    /** When that prune was made (ISO-8601). */
    time: string;
  };
  [ErrorCodes.TOOL_FAILED]: {
    /** The tool run (`qemu-img`, `ffmpeg`). */
    tool: string;
    /** Its arguments. */
    args?: string[];
    /** Its exit code (null: killed, or it did not start). */
    exitCode?: number | null;
    /** The tail of its stderr. */
    stderr?: string;
    /** The Debian package that provides it, when it is missing. */
    install?: string;
  };
  [ErrorCodes.QMP_ERROR]: {
    /** QMP's error class (`CommandNotFound`, `GenericError`, ...). */
    qmpClass?: string;
    /** QMP's error description. */
    desc?: string;
    /** The QMP command. */
    command?: string;
  };
  [ErrorCodes.INCOMPATIBLE_VM]: {
    /** The POINT restored. */
    point?: string;
    /** The recorded kernel or initrd that is gone. */
    path?: string;
    /** The tail of QEMU's stderr, and the machine type recorded. */
    stderr?: string;
    machine?: string;
    /** The QEMU version that recorded the VM, and the one installed. */
    recordedQemu?: string;
    installedQemu?: string;
  };
  [ErrorCodes.NBD_ERROR]: {
    /** The NBD socket concerned. */
    path?: string;
    /** The NBD error value a block device's failure answers the client with (default NBD_EIO). */
    nbdError?: number;
  };
  [ErrorCodes.PASSWORD_REQUIRED]: {
    /** The journal (a directory), or its remote location. */
    path?: string;
    location?: string;
  };
  [ErrorCodes.BAD_PASSWORD]: {
    /** The journal (a directory), or its remote location. */
    path?: string;
    location?: string;
  };
  [ErrorCodes.KEY_MISMATCH]: {
    /** The destination of the push. */
    location: string;
    /** The source's key id (hex), or `plain` for a journal that is not encrypted. */
    expected: string;
    /** The destination's key id (hex), or `plain`. */
    actual: string;
  };
  [ErrorCodes.INTERNAL]: {
    path?: string;
    disk?: string;
    expected?: number;
    actual?: number;
    /** A guest build script (journal-tools). */
    script?: string;
    /** A remote store concerned. */
    location?: string;
    sqlstate?: string;
  };
}

/** Fields any error may carry, whatever its code. */
export interface CommonErrorDetails {
  /** The sequence number of the event concerned. */
  seq?: number;
  /** `ttj verify`'s whole report, when it is verify that failed. */
  report?: VerifyReport;
}

/** The details of an error of code `C`: its own fields and the common ones. */
export type TtjErrorDetails<C extends ErrorCode = ErrorCode> = ErrorDetails[C] & CommonErrorDetails;

/** The constructor's arguments after the message: the details may be left out only when all their fields are optional. */
type DetailsArgs<C extends ErrorCode> = object extends TtjErrorDetails<C> ? [details?: TtjErrorDetails<C>, options?: ErrorOptions] : [details: TtjErrorDetails<C>, options?: ErrorOptions];

/**
 * The one error type of ttj. `code` is stable; `message` is for people; `details`
 * are typed by the code ({@link ErrorDetails}). An error is not changed after it is
 * made: adding context makes a new one with the old as its `cause` ({@link withContext}).
 */
export class TtjError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly details: Readonly<TtjErrorDetails<C>>;

  constructor(code: C, message: string, ...[details, options]: DetailsArgs<C>) {
    super(message, options);
    this.name = 'TtjError';
    this.code = code;
    this.details = details ?? ({} as TtjErrorDetails<C>);
  }

  /** The sequence number of the event concerned, when there is one. */
  get seq(): number | undefined {
    return this.details.seq;
  }

  /** The `--json` form of the error. */
  toJSON(): { error: { code: C; message: string } & Readonly<TtjErrorDetails<C>> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/**
 * A TtjError of any one code: narrowing on `code` (a `switch (e.code)`) narrows its
 * `details` too. What {@link isTtjError} without a code narrows to.
 */
export type AnyTtjError = { [C in ErrorCode]: TtjError<C> }[ErrorCode];

/** True when `e` is a TtjError, optionally with the given code (then its details are that code's). */
export function isTtjError(e: unknown): e is AnyTtjError;
export function isTtjError<C extends ErrorCode>(e: unknown, code: C): e is TtjError<C>;
export function isTtjError(e: unknown, code?: ErrorCode): boolean {
  return e instanceof TtjError && (code === undefined || e.code === code);
}

/**
 * The same error with more said: a new TtjError of `e`'s code, `message`, and `e`'s
 * details with `more` added, whose cause is `e`.
 */
export function withContext<C extends ErrorCode>(e: TtjError<C>, message: string, more: Partial<TtjErrorDetails<C>> = {}): TtjError<C> {
  return new TtjError<C>(e.code, message, ...([{ ...e.details, ...more }, { cause: e }] as unknown as DetailsArgs<C>));
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
function levelErrno(e: unknown): string | undefined {
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
