/**
 * Where each blob of a PostgreSQL journal is (`ttj_blob`): looked up by address in
 * slices, with a cache of recent locations and, for the writer, of addresses just
 * found absent (nobody else appends, so they stay absent until this writer stores them).
 */
import type { Queryable } from './pg-query.js';

/** One blob's place: a block row and a slice of its items. */
export interface PgBlobLocation {
  block: number;
  itemOff: number;
  itemLen: number;
}

/** Addresses looked up per statement. */
const LOOKUP_SLICE = 2000;
/** Locations (and absent addresses) remembered. */
const CACHE_ENTRIES = 65536;
/** Lookups up to this many addresses are cached (a fold's bulk lookups would only churn the cache). */
const CACHED_LOOKUP = 4096;

export class PgBlobIndex {
  private readonly locations = new Map<string, PgBlobLocation>();
  private readonly absent = new Set<string>();

  constructor(
    private readonly db: Queryable,
    private readonly journalId: number,
    private readonly writable: boolean,
  ) {}

  /** Each address's location, undefined for a blob the journal does not have. */
  async lookup(addrs: Buffer[]): Promise<(PgBlobLocation | undefined)[]> {
    const out = new Array<PgBlobLocation | undefined>(addrs.length);
    const missing: number[] = [];
    addrs.forEach((a, i) => {
      const k = a.toString('hex');
      const v = this.locations.get(k);
      if (v) out[i] = v;
      else if (!(this.writable && this.absent.has(k))) missing.push(i);
    });
    if (!missing.length) return out;
    const cache = missing.length <= CACHED_LOOKUP;
    const slices: Promise<void>[] = [];
    for (let s = 0; s < missing.length; s += LOOKUP_SLICE) {
      const part = missing.slice(s, s + LOOKUP_SLICE);
      slices.push(
        this.db.query('SELECT addr, block, item_off, item_len FROM ttj_blob WHERE journal = $1 AND addr = ANY($2::bytea[])', [this.journalId, part.map((i) => addrs[i]!)], 'looking up blobs').then((rows) => {
          const found = new Map<string, PgBlobLocation>();
          for (const r of rows) found.set((r.addr as Buffer).toString('hex'), { block: Number(r.block), itemOff: r.item_off as number, itemLen: r.item_len as number });
          for (const i of part) {
            const k = addrs[i]!.toString('hex');
            const v = found.get(k);
            out[i] = v;
            if (cache && v) this.remember(k, v);
            else if (cache && !v && this.writable) this.markAbsent(k);
          }
        }),
      );
    }
    await Promise.all(slices);
    return out;
  }

  /** Records blobs a committed append placed. */
  placed(entries: [string, PgBlobLocation][]): void {
    for (const [k, v] of entries) {
      this.absent.delete(k);
      this.remember(k, v);
    }
  }

  /** Forgets what is cached (after a failed append whose outcome was unknown). */
  clear(): void {
    this.locations.clear();
    this.absent.clear();
  }

  private remember(k: string, v: PgBlobLocation): void {
    if (this.locations.size >= CACHE_ENTRIES) this.locations.delete(this.locations.keys().next().value as string);
    this.locations.set(k, v);
  }

  private markAbsent(k: string): void {
    if (this.absent.size >= CACHE_ENTRIES) this.absent.delete(this.absent.values().next().value as string);
    this.absent.add(k);
  }
}
