/**
 * A socket's bytes received on a native thread of their own (the addon's SocketPump):
 * the JS thread neither copies them nor wakes up for every 64 KiB the kernel hands
 * over. The NBD server uses it for the transmission phase; without the addon, Node's
 * own socket reads do the same work (src/capture/nbd/socket-reader.ts).
 *
 * @module
 */
import { loadNative } from './load.js';

/** Called once per read: the bytes received (0 = the peer closed), or the error (with `code`, e.g. ECONNRESET). */
export type PumpCallback = (err: (Error & { code?: string; errno?: number }) | null, n?: number) => void;

/** One pump: one read at a time; {@link SocketPump.stop} joins its thread. */
export interface SocketPump {
  /**
   * Waits for at least one byte, then receives what has arrived, up to `length`, into
   * `buffer` at `offset`; the callback runs on the JS thread. One read at a time.
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
  if (!PumpCtor) throw new Error('the native addon has no socket pump (run npm run build:native)');
  if (!Number.isSafeInteger(fd) || fd < 0) throw new TypeError('fd must be a non-negative integer');
  if (typeof cb !== 'function') throw new TypeError('callback must be a function');
  return new PumpCtor(fd, cb);
}
