/**
 * A worker thread of {@link BlockDecodePool} (./block-decode.ts): decodes and hashes
 * the blocks it is sent, and sends the buffers back.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import { BLOCK_HEADER } from './block-codec.js';
import { DecodeError, decodeBlockInto, ownBuffer, transferable, type DecodeBuffers, type WorkerReply, type WorkerRequest } from './block-decode.js';

/** The plain block of a sealed stored block whose items are `items`, as a buffer that can be transferred (copied only when it is not one). */
function openedBlock(items: Buffer): ArrayBuffer {
  const block = Buffer.from(items.buffer, items.byteOffset - BLOCK_HEADER, items.length + BLOCK_HEADER);
  if (transferable(block)) return block.buffer as ArrayBuffer;
  const own = ownBuffer(block.length);
  block.copy(own);
  return own.buffer as ArrayBuffer;
}

parentPort!.on('message', (m: WorkerRequest) => {
  const bufs: DecodeBuffers = { packed: Buffer.from(m.packed), raw: Buffer.from(m.raw) };
  let reply: WorkerReply;
  try {
    const d = decodeBlockInto(bufs, m);
    // A sealed stored block's items are in its opened copy, neither of the buffers sent.
    const opened = d.items.buffer !== bufs.packed.buffer && d.items.buffer !== bufs.raw.buffer ? openedBlock(d.items) : undefined;
    reply = { id: m.id, packed: bufs.packed.buffer as ArrayBuffer, raw: bufs.raw.buffer as ArrayBuffer, itemsLen: d.items.length, hashes: d.hashes, mismatch: d.mismatch, opened };
  } catch (e) {
    reply = { id: m.id, packed: bufs.packed.buffer as ArrayBuffer, raw: bufs.raw.buffer as ArrayBuffer, itemsLen: 0 };
    if (e instanceof DecodeError) reply.failure = e.failure;
    else {
      // A system error (a write of placed items) by its message and errno name, to be converted; anything else with its stack.
      const code = (e as NodeJS.ErrnoException)?.code;
      if (typeof code === 'string') reply.errorCode = code;
      reply.error = String((typeof code === 'string' ? (e as Error).message : (e as Error)?.stack) ?? e);
    }
  }
  parentPort!.postMessage(reply, reply.opened ? [reply.packed, reply.raw, reply.opened] : [reply.packed, reply.raw]);
});
