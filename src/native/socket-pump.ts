/**
 * A socket's bytes received on a native thread of their own (the addon's SocketPump):
 * the JS thread neither copies them nor wakes up for every 64 KiB the kernel hands
 * over. The NBD server uses it for the transmission phase; without the addon, Node's
 * own socket reads do the same work (src/capture/nbd/socket-reader.ts).
 *
 * @module
 */
import { loadNative } from './load.js';
import { ErrorCodes, TtjError } from '../errors.js';

/**
 * Called once per batch of bytes a read received (their count; the batches follow each
 * other in the read's region), or once with 0 when the peer closed, or with the error
 * (with `code`, e.g. ECONNRESET); the last two end the read.
 */
export type PumpCallback = (err: (Error & { code?: string; errno?: number }) | null, n?: number) => void;

/** One pump: one read at a time; {@link SocketPump.stop} joins its thread. */
export interface SocketPump {
  /**
   * Fills `buffer[offset, offset + length)` as bytes arrive, calling back on the JS thread
   * for every batch received, until the region is full (or the stream ends or fails).
   * One read at a time; the buffer must stay untouched until the read is over.
   */
  read(buffer: Uint8Array, offset: number, length: number): void;
  /** Stops the thread (a read in progress is dropped: no callback runs after this). Idempotent. */
  stop(): void;
}

type PumpClass = new (fd: number, cb: PumpCallback) => SocketPump;
const PumpCtor = (loadNative().impl as { SocketPump?: PumpClass } | undefined)?.SocketPump;

/** True when the addon has the pump (and `TTJ_NBD_RECEIVE` does not ask for Node's reads). */
export function socketPumpAvailable(): boolean {
  return PumpCtor !== undefined && process.env.TTJ_NBD_RECEIVE !== 'node';
}

/**
 * A pump reading a duplicate of descriptor `fd` (Node may close its own at any time;
 * the connection ends once the pump is stopped too).
 * @throws Error when the addon has no pump or the descriptor cannot be duplicated.
 */
export function createSocketPump(fd: number, cb: PumpCallback): SocketPump {
  if (!PumpCtor) throw new TtjError(ErrorCodes.INTERNAL, 'the native addon has no socket pump (run npm run build:native)');
  if (!Number.isSafeInteger(fd) || fd < 0) throw new TypeError('fd must be a non-negative integer');
  if (typeof cb !== 'function') throw new TypeError('callback must be a function');
  return new PumpCtor(fd, cb);
}
