/**
 * Framing of the reader protocol between a journal's writer and readers in other
 * processes: each frame is `u32 length | u32 header length | JSON header | payload`.
 * Values travel as raw bytes in the payload; `lens[i] = -1` marks a missing value.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Socket } from 'node:net';

/** Largest frame accepted (64 MiB); anything bigger is a protocol error. */
const MAX_FRAME = 64 * 1024 * 1024;

/** The abstract unix socket name a journal's index holder listens on. */
export function readerSocketName(journalDir: string): string {
  let p = resolve(journalDir);
  try {
    p = realpathSync(p);
  } catch {
    /* not there yet */
  }
  return '\0ttj-index-' + createHash('sha256').update(p).digest('hex').slice(0, 32);
}

export function encodeFrame(header: object, payload: Buffer[] = []): Buffer[] {
  const h = Buffer.from(JSON.stringify(header));
  const plen = payload.reduce((n, b) => n + b.length, 0);
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32LE(4 + h.length + plen, 0);
  head.writeUInt32LE(h.length, 4);
  return [head, h, ...payload];
}

/** Splits a byte stream into frames; calls `onFrame(header, payload)` for each. */
export function frameReader(socket: Socket, onFrame: (header: Record<string, unknown>, payload: Buffer) => void, onError: (e: Error) => void): void {
  let chunks: Buffer[] = [];
  let have = 0;
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    have += d.length;
    for (;;) {
      if (have < 4) return;
      let buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      chunks = [buf];
      const len = buf.readUInt32LE(0);
      if (len > MAX_FRAME || len < 4) {
        onError(new Error(`bad frame length ${len}`));
        socket.destroy();
        return;
      }
      if (have < 4 + len) return;
      const hlen = buf.readUInt32LE(4);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
      } catch (e) {
        onError(e as Error);
        socket.destroy();
        return;
      }
      const payload = buf.subarray(8 + hlen, 4 + len);
      buf = buf.subarray(4 + len);
      chunks = buf.length ? [buf] : [];
      have = buf.length;
      onFrame(header, payload);
    }
  });
}

/** Packs optional values into lens + payload. */
export function packValues(values: (Buffer | undefined)[]): { lens: number[]; payload: Buffer[] } {
  const lens: number[] = [];
  const payload: Buffer[] = [];
  for (const v of values) {
    if (v === undefined) lens.push(-1);
    else {
      lens.push(v.length);
      payload.push(v);
    }
  }
  return { lens, payload };
}

export function unpackValues(lens: number[], payload: Buffer): (Buffer | undefined)[] {
  const out: (Buffer | undefined)[] = [];
  let off = 0;
  for (const n of lens) {
    if (n < 0) out.push(undefined);
    else {
      out.push(Buffer.from(payload.subarray(off, off + n)));
      off += n;
    }
  }
  return out;
}
