import { ADDR_LEN } from '../util/hash.js';
import { zeroPage } from '../util/zero-page.js';
import { CHUNK_ENTRIES, type PageTable } from './page-table.js';

/** A run of consecutive table entries (pages or blocks): `count` entries from `first`. */
export interface EntryRun {
  first: number;
  count: number;
}

/**
 * The runs of entries whose content addresses differ between two page tables of
 * `count` entries each (an absent table is all zero, as a disk or memory is before it
 * exists), ascending. Merkle leaf chunks whose hashes are equal are skipped whole, so
 * the cost is the table's chunk count plus the entries of the chunks that differ.
 */
export function changedRuns(a: PageTable | undefined, b: PageTable | undefined, count: number): EntryRun[] {
  const runs: EntryRun[] = [];
  let open: EntryRun | undefined;
  const chunks = Math.ceil(count / CHUNK_ENTRIES);
  for (let c = 0; c < chunks; c++) {
    if (sameChunk(a, b, c)) {
      open = undefined;
      continue;
    }
    const ea = a ? a.chunk(c) : zeroPage(CHUNK_ENTRIES * ADDR_LEN);
    const eb = b ? b.chunk(c) : zeroPage(CHUNK_ENTRIES * ADDR_LEN);
    const n = Math.min(CHUNK_ENTRIES, count - c * CHUNK_ENTRIES);
    for (let k = 0; k < n; k++) {
      const o = k * ADDR_LEN;
      if (ea.compare(eb, o, o + ADDR_LEN, o, o + ADDR_LEN) === 0) {
        open = undefined;
        continue;
      }
      const i = c * CHUNK_ENTRIES + k;
      if (open && open.first + open.count === i) open.count++;
      else runs.push((open = { first: i, count: 1 }));
    }
  }
  return runs;
}

/** True when chunk `c` of both tables holds the same entries (by its Merkle leaf hash, or both all zero). */
function sameChunk(a: PageTable | undefined, b: PageTable | undefined, c: number): boolean {
  if (a && b) return a.chunkHash(c).equals(b.chunkHash(c));
  const t = a ?? b;
  if (!t) return true;
  const entries = t.chunk(c);
  return entries.equals(zeroPage(entries.length));
}
