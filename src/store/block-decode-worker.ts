/**
 * A worker thread of {@link BlockDecodePool} (./block-decode.ts): decodes and hashes
 * the blocks it is sent, and sends the buffers back.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { DecodeError, decodeBlockInto, type DecodeBuffers, type WorkerReply, type WorkerRequest } from './block-decode.js';

parentPort!.on('message', (m: WorkerRequest) => {
  const bufs: DecodeBuffers = { packed: Buffer.from(m.packed), raw: Buffer.from(m.raw) };
  let reply: WorkerReply;
  try {
    const d = decodeBlockInto(bufs, m);
    reply = { id: m.id, packed: bufs.packed.buffer as ArrayBuffer, raw: bufs.raw.buffer as ArrayBuffer, itemsLen: d.items.length, hashes: d.hashes };
  } catch (e) {
    reply = { id: m.id, packed: bufs.packed.buffer as ArrayBuffer, raw: bufs.raw.buffer as ArrayBuffer, itemsLen: 0 };
    if (e instanceof DecodeError) reply.failure = e.failure;
    else reply.error = String((e as Error)?.stack ?? e);
  }
  parentPort!.postMessage(reply, [reply.packed, reply.raw]);
});
