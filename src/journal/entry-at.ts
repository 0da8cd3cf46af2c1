import type { BlamedEntry } from './blame.js';
import { entryBytes } from './entry-bytes.js';
import { foldState } from './fold.js';
import type { Journal } from './journal.js';

/** A page or block's content at a point. */
export interface EntryAt {
  point: string;
  seq: number;
  epoch: number;
  /** Its content address (hex); absent when all zero. */
  addr?: string;
  zero: boolean;
  /** Its bytes (a short last disk block ends at the disk's end). */
  data: Buffer;
}

/**
 * The content of a memory page or disk block (as {@link blame} names it) in the state
 * at a POINT: all zero where the memory or disk does not exist yet.
 * @throws TtjError BAD_POINT, POINT_NOT_FOUND, and what a fold of the point throws.
 */
export async function entryAt(j: Journal, entry: BlamedEntry, at: string): Promise<EntryAt> {
  const { point, state } = await foldState(j, at);
  const table = entry.kind === 'page' ? state.memory : state.disks.get(entry.disk)?.table;
  const index = entry.kind === 'page' ? entry.pfn : entry.block;
  const entrySize = entry.kind === 'page' ? state.pageSize : (state.disks.get(entry.disk)?.blockSize ?? entry.size);
  const data = table ? await entryBytes(j, table, entrySize, index * entrySize + entry.size, index, 1) : Buffer.alloc(entry.size);
  const zero = !table || table.isZero(index);
  return { point: point.point, seq: point.seq, epoch: point.epoch, addr: zero ? undefined : table.get(index).toString('hex'), zero, data };
}
