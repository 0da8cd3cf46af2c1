/**
 * NBD protocol constants (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md).
 * Only the values this server speaks or recognizes are listed.
 */

/** 'NBDMAGIC' — first 8 bytes the server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT' — newstyle magic, also prefixes every client option. */
export const NBD_IHAVEOPT = 0x49484156454f5054n;
/** Magic of every fixed-newstyle option reply. */
export const NBD_REP_MAGIC = 0x3e889045565a9n;
/** Magic of a transmission request. */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;

// Handshake flags (server, 16 bits).
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
// Client flags (32 bits).
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Transmission flags (16 bits).
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

// Options.
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

// Option reply types.
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
const NBD_REP_FLAG_ERROR = 0x80000000;
export const NBD_REP_ERR_UNSUP = (NBD_REP_FLAG_ERROR | 1) >>> 0;
export const NBD_REP_ERR_INVALID = (NBD_REP_FLAG_ERROR | 3) >>> 0;
export const NBD_REP_ERR_UNKNOWN = (NBD_REP_FLAG_ERROR | 6) >>> 0;
export const NBD_REP_ERR_SHUTDOWN = (NBD_REP_FLAG_ERROR | 7) >>> 0;
export const NBD_REP_ERR_TOO_BIG = (NBD_REP_FLAG_ERROR | 9) >>> 0;

// Info types (NBD_OPT_INFO / NBD_OPT_GO).
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_BLOCK_SIZE = 3;

// Commands.
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

// Command flags.
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

// Error values of a reply.
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_ESHUTDOWN = 108;

/** Size of a request header on the wire. */
export const NBD_REQUEST_SIZE = 28;
/** Size of a simple reply header on the wire. */
export const NBD_REPLY_SIZE = 16;
/** Longest export name (and other option strings) the server accepts, per the spec's 4096 limit. */
export const NBD_MAX_STRING = 4096;

/** Largest READ/WRITE payload the server accepts: 32 MiB, the spec's interoperable maximum. */
export const DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;
/** Preferred block size advertised when the device states none. */
export const DEFAULT_PREFERRED_BLOCK = 4096;

/** Human-readable command names (for events and logs). */
export const COMMAND_NAMES: Record<number, string> = {
  [NBD_CMD_READ]: 'read',
  [NBD_CMD_WRITE]: 'write',
  [NBD_CMD_DISC]: 'disc',
  [NBD_CMD_FLUSH]: 'flush',
  [NBD_CMD_TRIM]: 'trim',
  [NBD_CMD_CACHE]: 'cache',
  [NBD_CMD_WRITE_ZEROES]: 'write-zeroes',
  [NBD_CMD_BLOCK_STATUS]: 'block-status',
};

/** Human-readable option names (for events and logs). */
export const OPTION_NAMES: Record<number, string> = {
  [NBD_OPT_EXPORT_NAME]: 'export-name',
  [NBD_OPT_ABORT]: 'abort',
  [NBD_OPT_LIST]: 'list',
  [NBD_OPT_STARTTLS]: 'starttls',
  [NBD_OPT_INFO]: 'info',
  [NBD_OPT_GO]: 'go',
  [NBD_OPT_STRUCTURED_REPLY]: 'structured-reply',
  [NBD_OPT_LIST_META_CONTEXT]: 'list-meta-context',
  [NBD_OPT_SET_META_CONTEXT]: 'set-meta-context',
};
