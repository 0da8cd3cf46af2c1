import { ttj } from '../gen/events.js';
import { ErrorCodes, TtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';

export type Event = ttj.v1.Event;
export type IEvent = ttj.v1.IEvent;
export const EventMsg = ttj.v1.Event;

/** Encodes an event to its stored bytes. */
export function encodeEvent(e: IEvent): Uint8Array {
  return EventMsg.encode(e).finish();
}

/** Decodes stored event bytes; a damaged event is TtjError CORRUPT_EVENT naming `seq`. */
export function decodeEvent(bytes: Uint8Array, seq?: number): Event {
  try {
    return EventMsg.decode(bytes);
  } catch (e) {
    throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq ?? '?'} does not decode: ${(e as Error).message}`, { seq }, { cause: e });
  }
}

/** The hash that the next event's `prev_hash` must carry. */
export function eventHash(bytes: Uint8Array): Buffer {
  return sha256(bytes);
}

/** Node Buffer view of protobuf bytes (no copy). */
export function buf(b: Uint8Array | null | undefined): Buffer {
  if (!b) return Buffer.alloc(0);
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
