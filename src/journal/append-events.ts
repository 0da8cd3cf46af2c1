import protobuf from 'protobufjs/minimal.js';
import { ErrorCodes, TtjError } from '../errors.js';
import type { BlobPut } from '../store/store.js';
import { sha256 } from '../util/hash.js';
import { EventMsg, encodeEvent, type IEvent } from './codec.js';
import type { CommitResult, JournalWriter } from './writer.js';

/**
 * Splits a length-delimited stream (varint length, then an `Event`) into events.
 * @throws TtjError BAD_EVENT_STREAM naming the event's index in the stream.
 */
export function parseEventStream(data: Uint8Array): IEvent[] {
  const reader = protobuf.Reader.create(data);
  const out: IEvent[] = [];
  while (reader.pos < reader.len) {
    const at = out.length;
    try {
      const len = reader.uint32();
      if (reader.pos + len > reader.len) throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, `length ${len} runs past the end of the stream`, { index: out.length });
      out.push(EventMsg.decode(reader, len));
    } catch (e) {
      throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, `event ${at} of the stream does not decode: ${(e as Error).message}`, { index: at }, { cause: e });
    }
  }
  return out;
}

/** Writes events as a length-delimited stream (the inverse of {@link parseEventStream}). */
export function encodeEventStream(events: IEvent[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of events) {
    const bytes = encodeEvent(e);
    const w = protobuf.Writer.create();
    w.uint32(bytes.length);
    parts.push(Buffer.from(w.finish()), Buffer.from(bytes));
  }
  return Buffer.concat(parts);
}

/**
 * Appends a length-delimited protobuf event stream as ONE atomic batch: `blob`
 * events supply the bytes of the pages, blocks and chunks the other events name;
 * seq, time (when 0), the hash chain, state roots and keyframes are filled in by
 * the journal. Any error leaves the journal unchanged.
 * @throws TtjError BAD_EVENT_STREAM, CORRUPT_BLOB, CORRUPT_EVENT, STATE_ROOT_MISMATCH.
 */
export async function appendEventStream(w: JournalWriter, data: Uint8Array): Promise<CommitResult> {
  const events = parseEventStream(data);
  const blobs: BlobPut[] = [];
  const bodies: IEvent[] = [];
  for (const e of events) {
    if (e.blob) {
      const d = Buffer.from(e.blob.data ?? []);
      blobs.push({ addr: sha256(d), data: d });
    } else {
      bodies.push({ ...e, seq: undefined, prevHash: undefined });
    }
  }
  if (!bodies.length) throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, 'the stream has no events to append');
  return w.commit(bodies, blobs);
}
