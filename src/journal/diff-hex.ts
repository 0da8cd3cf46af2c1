import type { DiffResult, DiffStates } from './diff.js';
import { entryBytes } from './entry-bytes.js';
import type { Journal } from './journal.js';
import type { PageTable } from './page-table.js';

/** Bytes per row of a hex comparison. */
const HEX_ROW_BYTES = 16;
/** Differing rows shown per range at most. */
const HEX_ROWS_PER_RANGE = 32;
/** Ranges shown by default (`ttj diff --hex --limit N`). */
export const DEFAULT_HEX_RANGES = 16;

/** One row of 16 bytes that differs: its offset (a physical address or a disk offset) and the bytes at A and at B, in hex. */
interface HexRow {
  offset: number;
  a: string;
  b: string;
}

/** The differing rows of one changed range, A beside B. */
export interface HexRange {
  /** `memory` or the disk's name. */
  where: 'memory' | { disk: string };
  offset: number;
  length: number;
  rows: HexRow[];
  /** The range has differing bytes past the rows shown. */
  more: boolean;
}

/**
 * The bytes of the first `limit` changed ranges of a diff (memory first, then disks by
 * name), side by side: the rows of {@link HEX_ROW_BYTES} bytes that differ, at most
 * {@link HEX_ROWS_PER_RANGE} a range, read a page or block at a time.
 * @throws TtjError CORRUPT_BLOB.
 */
export async function diffHex(j: Journal, d: DiffResult, states: DiffStates, limit: number): Promise<HexRange[]> {
  const out: HexRange[] = [];
  if (d.memory) {
    const { pageSize, size } = d.memory;
    for (const r of d.memory.ranges) {
      if (out.length >= limit) return out;
      out.push(await hexRange(j, 'memory', states.a.memory, states.b.memory, pageSize, size, r.pfn, r.pages));
    }
  }
  for (const disk of d.disks) {
    for (const r of disk.ranges) {
      if (out.length >= limit) return out;
      const t = (s: DiffStates['a']) => s.disks.get(disk.name)?.table;
      out.push(await hexRange(j, { disk: disk.name }, t(states.a), t(states.b), disk.blockSize, disk.size, r.offset / disk.blockSize, r.blocks));
    }
  }
  return out;
}

async function hexRange(j: Journal, where: HexRange['where'], a: PageTable | undefined, b: PageTable | undefined, entrySize: number, size: number, first: number, count: number): Promise<HexRange> {
  const offset = first * entrySize;
  const range: HexRange = { where, offset, length: Math.min(count * entrySize, size - offset), rows: [], more: false };
  for (let k = 0; k < count; k++) {
    if (range.rows.length >= HEX_ROWS_PER_RANGE) {
      range.more = true;
      break;
    }
    const ba = await entryBytes(j, a, entrySize, size, first + k, 1);
    const bb = await entryBytes(j, b, entrySize, size, first + k, 1);
    for (let o = 0; o < ba.length; o += HEX_ROW_BYTES) {
      const ra = ba.subarray(o, o + HEX_ROW_BYTES);
      const rb = bb.subarray(o, o + HEX_ROW_BYTES);
      if (ra.equals(rb)) continue;
      if (range.rows.length >= HEX_ROWS_PER_RANGE) {
        range.more = true;
        break;
      }
      range.rows.push({ offset: offset + k * entrySize + o, a: ra.toString('hex'), b: rb.toString('hex') });
    }
  }
  return range;
}
