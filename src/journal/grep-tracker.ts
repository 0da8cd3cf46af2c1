import { ADDR_LEN } from '../util/hash.js';
import type { BlobMatches } from './grep-blobs.js';
import type { PageTable } from './page-table.js';

/** One address space searched: the memory, or one disk. */
export interface GrepSpace {
  /** `memory`, or the disk's name. */
  readonly name: string;
  readonly kind: 'memory' | 'disk';
  /** Bytes per page or block. */
  readonly unit: number;
  /** Bytes of the space (a disk's last block may be short). */
  readonly size: number;
  /** The live table (changed in place by the replay). */
  readonly table: PageTable;
}

/** A stretch of history over which the pattern was at one byte offset of a space. */
export interface RawSpan {
  space: GrepSpace;
  offset: number;
  /** Seq of the event that put it there (its state is the first that holds it). */
  from: number;
  /** Seq of the event that took it away; undefined: still there. */
  to?: number;
}

/**
 * Keeps, for every page (block) of a space, the offsets where the pattern starts in it
 * now — in its blob, or across its end into the next one — and since which seq. When
 * pages change, only they and their left neighbours are looked at again (a match
 * across a boundary belongs to the page it starts in), from the blob matches alone;
 * a match that goes away closes its span.
 */
export class GrepTracker {
  private readonly open = new Map<GrepSpace, Map<number, Map<number, number>>>();
  readonly closed: RawSpan[] = [];
  /** The first 4 bytes of every address with something of the pattern: most pages are passed over without making their hex key. */
  private readonly candidates = new Set<number>();

  constructor(
    private readonly blobs: BlobMatches,
    private readonly patternLength: number,
  ) {
    for (const m of [blobs.inBlob, blobs.tails, blobs.heads]) for (const key of m.keys()) this.candidates.add(Buffer.from(key.slice(0, 8), 'hex').readUInt32LE(0));
  }

  /** Starts tracking a space, looking at all its pages as they are at `seq`. */
  add(space: GrepSpace, seq: number): void {
    this.open.set(space, new Map());
    const some: number[] = [];
    for (let i = 0; i < space.table.count; i++) if (this.key(space.table, i) !== undefined) some.push(i);
    this.changed(space, some, seq);
  }

  has(space: GrepSpace): boolean {
    return this.open.has(space);
  }

  /** Pages `pages` of `space` changed at `seq` (the table already holds their new content). */
  changed(space: GrepSpace, pages: Iterable<number>, seq: number): void {
    const owners = new Set<number>();
    for (const p of pages) {
      owners.add(p);
      if (p > 0) owners.add(p - 1);
    }
    const open = this.open.get(space)!;
    for (const u of owners) {
      const now = this.hitsIn(space, u);
      const before = open.get(u);
      if (before) {
        for (const [offset, from] of before) if (!now.includes(offset)) this.closed.push({ space, offset, from, to: seq });
      }
      if (!now.length) {
        open.delete(u);
        continue;
      }
      const next = new Map<number, number>();
      for (const offset of now) next.set(offset, before?.get(offset) ?? seq);
      open.set(u, next);
    }
  }

  /** Every span: the closed ones, then those still open (without `to`). */
  spans(): RawSpan[] {
    const out = [...this.closed];
    for (const [space, pages] of this.open) for (const hits of pages.values()) for (const [offset, from] of hits) out.push({ space, offset, from });
    return out;
  }

  /** Byte offsets (in the space) where the pattern starts in page `u`. */
  private hitsIn(space: GrepSpace, u: number): number[] {
    const { unit, size, table } = space;
    const len = this.patternLength;
    const base = u * unit;
    const valid = Math.min(unit, size - base);
    const key = this.key(table, u);
    if (key === undefined) return NONE;
    const out: number[] = [];
    const inBlob = this.blobs.inBlob.get(key);
    if (inBlob) for (const o of inBlob) if (o + len <= valid) out.push(base + o);
    const tail = valid === unit && u + 1 < table.count ? this.blobs.tails.get(key) : undefined;
    const next = tail && this.key(table, u + 1);
    if (tail && next !== undefined) {
      const head = this.blobs.heads.get(next);
      const nextValid = Math.min(unit, size - base - unit);
      if (head) for (const k of tail) if (head.has(len - k) && len - k <= nextValid) out.push(base + unit - k);
    }
    return out;
  }

  /** The hex address of entry `i`, or undefined when no blob with something of the pattern can have it. */
  private key(table: PageTable, i: number): string | undefined {
    if (!this.candidates.has(table.entries.readUInt32LE(i * ADDR_LEN))) return undefined;
    return table.get(i).toString('hex');
  }
}

const NONE: number[] = [];
