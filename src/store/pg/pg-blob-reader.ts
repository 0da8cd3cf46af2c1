/**
 * Reads blob bytes from a PostgreSQL journal's block rows: each block fetched and
 * decoded once per read (a few blocks per statement, a few statements at once), items
 * checked against their addresses, small reads served from a cache of recent blocks.
 */
import { ErrorCodes, TtjError } from '../../errors.js';
import { decodeBlock } from '../block-codec.js';
import { storedAddressesOf, type JournalCipher } from '../cipher.js';
import type { PgBlobLocation } from './pg-blob-index.js';
import { POOL_SIZE } from './pg-connect.js';
import type { Queryable } from './pg-query.js';

/** Blocks fetched per statement. */
const BLOCKS_PER_FETCH = 4;
/** Reads of more blocks than this are bulk reads: they bypass the block cache. */
const BULK_READ_BLOCKS = 8;
/** Decoded bytes the block cache keeps. */
const CACHE_BYTES = 64 * 1024 * 1024;

export class PgBlobReader {
  private readonly cache = new Map<number, Buffer>();
  private cacheBytes = 0;

  constructor(
    private readonly db: Queryable,
    private readonly journalId: number,
    /** An encrypted journal's cipher: its blocks are sealed for their row. */
    private readonly cipher?: JournalCipher,
  ) {}

  /**
   * Calls `onBlob(i, data)` for each located blob (`data` valid during the call only),
   * block by block; with `verify`, each item must hash to its address.
   * @throws TtjError CORRUPT_BLOB when a block is missing or damaged, or an item does not hash to its address.
   */
  async read(addrs: Buffer[], locs: PgBlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean): Promise<void> {
    const byBlock = new Map<number, number[]>();
    locs.forEach((l, i) => {
      const items = byBlock.get(l.block);
      if (items) items.push(i);
      else byBlock.set(l.block, [i]);
    });
    const ids = [...byBlock.keys()].sort((a, b) => a - b);
    const bulk = ids.length > BULK_READ_BLOCKS;
    const deliver = (id: number, raw: Buffer) => {
      const items = byBlock.get(id)!;
      const hashes = verify
        ? storedAddressesOf(
            raw,
            Uint32Array.from(items, (i) => locs[i]!.itemOff),
            Uint32Array.from(items, (i) => locs[i]!.itemLen),
            this.cipher,
          )
        : undefined;
      items.forEach((i, k) => {
        const l = locs[i]!;
        if (l.itemOff + l.itemLen > raw.length) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `block ${id} is shorter than blob ${addrs[i]!.toString('hex')} says`, { block: id });
        if (hashes && !hashes.subarray(k * 32, k * 32 + 32).equals(addrs[i]!)) {
          throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} does not hash to its address`, {
            addr: addrs[i]!.toString('hex'),
            expected: addrs[i]!.toString('hex'),
            actual: hashes.subarray(k * 32, k * 32 + 32).toString('hex'),
            block: id,
          });
        }
        onBlob(i, raw.subarray(l.itemOff, l.itemOff + l.itemLen));
      });
    };
    const wanted = bulk ? ids : ids.filter((id) => !this.fromCache(id, deliver));
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const part = wanted.slice(next, next + BLOCKS_PER_FETCH);
        next += part.length;
        const blocks = await this.fetch(part);
        for (const id of part) {
          const raw = blocks.get(id);
          if (!raw) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `block ${id} is missing from the store`, { block: id });
          if (!bulk) this.keep(id, raw);
          deliver(id, raw);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(POOL_SIZE, Math.ceil(wanted.length / BLOCKS_PER_FETCH)) }, worker));
  }

  /** The decoded blocks of `ids` (those that exist). */
  private async fetch(ids: number[]): Promise<Map<number, Buffer>> {
    // base64 rather than bytea's hex text: a third less to move and decode (measured 1.6x faster).
    const rows = await this.db.query(`SELECT id, encode(data, 'base64') AS data FROM ttj_block WHERE journal = $1 AND id = ANY($2::bigint[])`, [this.journalId, ids], 'reading blob blocks');
    const out = new Map<number, Buffer>();
    for (const r of rows) {
      const id = Number(r.id);
      out.set(id, decodeBlock(Buffer.from(r.data as string, 'base64'), { block: id }, this.cipher && { cipher: this.cipher, place: `block ${id}` }));
    }
    return out;
  }

  private fromCache(id: number, deliver: (id: number, raw: Buffer) => void): boolean {
    const hit = this.cache.get(id);
    if (!hit) return false;
    this.cache.delete(id);
    this.cache.set(id, hit);
    deliver(id, hit);
    return true;
  }

  private keep(id: number, raw: Buffer): void {
    if (this.cache.has(id)) return;
    // A stored block is a view into the fetched row; keep a copy of its own size.
    const own = Buffer.from(raw);
    this.cache.set(id, own);
    this.cacheBytes += own.length;
    while (this.cacheBytes > CACHE_BYTES && this.cache.size > 1) {
      const [k, v] = this.cache.entries().next().value as [number, Buffer];
      this.cache.delete(k);
      this.cacheBytes -= v.length;
    }
  }
}
