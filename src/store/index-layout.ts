/**
 * The keys and values of a journal's LevelDB index (docs/format.md):
 *
 * ```
 * e/<seq, 14 hex digits>  an event's bytes
 * b/<blob address, hex>   a blob's location in the pack files (pack-files.ts)
 * i/<key>                 a secondary index entry
 * h                       the head: u48 seq | 32-byte hash of that event
 * s                       the store statistics (JSON)
 * y                       the time of the last sync (a synchronous write)
 * ```
 */
import { sha256 } from '../util/hash.js';
import type { KvReader } from './kv.js';
import type { StoreHead, StoreStats } from './store.js';

export const K_HEAD = 'h';
export const K_STATS = 's';
export const K_SYNC = 'y';
export const eventKey = (seq: number) => 'e/' + seq.toString(16).padStart(14, '0');
export const blobKey = (addr: Buffer) => 'b/' + addr.toString('hex');
export const indexKey = (k: string) => 'i/' + k;
/** The ranges of each kind of key (`gte`..`lt`). */
export const EVENT_KEYS = { gte: 'e/', lt: 'e0' };
export const BLOB_KEYS = { gte: 'b/', lt: 'b0' };
export const INDEX_KEYS = { gte: 'i/', lt: 'i0' };

export const encodeHead = (h: StoreHead): Buffer => {
  const v = Buffer.alloc(38);
  v.writeUIntLE(h.seq, 0, 6);
  h.hash.copy(v, 6);
  return v;
};
export const decodeHead = (v: Buffer): StoreHead => ({ seq: v.readUIntLE(0, 6), hash: Buffer.from(v.subarray(6, 38)) });

/** The head entry of the index. */
export async function readHead(kv: KvReader): Promise<StoreHead | undefined> {
  const v = await kv.get(K_HEAD);
  return v ? decodeHead(v) : undefined;
}

/** The statistics entry of the index (zeroes before the first append). */
export async function readStats(kv: KvReader): Promise<StoreStats> {
  const v = await kv.get(K_STATS);
  return v ? (JSON.parse(v.toString()) as StoreStats) : { blobs: 0, rawBytes: 0, storedBytes: 0 };
}

/** The last event in the index (its sequence number and hash), whatever the head entry says. */
export async function lastStoredEvent(kv: KvReader): Promise<StoreHead | undefined> {
  for await (const [k, v] of kv.range({ ...EVENT_KEYS, reverse: true, limit: 1 })) return { seq: parseInt(k.slice(2), 16), hash: sha256(v) };
  return undefined;
}
