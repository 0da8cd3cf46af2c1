/**
 * The one place that turns a set of changed pages or disk blocks into `pages` and
 * `disk_write` event bodies, cut into events of at most {@link BATCH_ENTRIES} entries.
 * Appends from images, imports of disks, forks and live recording all build their
 * events here.
 */
import type { IEvent } from './codec.js';
import { diskWriteLength } from './disk-geometry.js';
import { joinAddrs } from './image-diff.js';

/** Page or block entries per event. */
const BATCH_ENTRIES = 4096;

/** Changed entries of a page table: non-zero ones (ascending) with their addresses, and ones that became zero. */
export interface TableChanges {
  pfns: number[];
  addrs: Buffer[];
  zeroPfns: number[];
}

/** `pages` events for changed memory pages. */
export function pageEvents(changes: TableChanges, out: IEvent[]): void {
  for (let i = 0; i < changes.pfns.length; i += BATCH_ENTRIES) {
    out.push({ pages: { pfns: changes.pfns.slice(i, i + BATCH_ENTRIES), addrs: joinAddrs(changes.addrs.slice(i, i + BATCH_ENTRIES)) } });
  }
  for (let i = 0; i < changes.zeroPfns.length; i += BATCH_ENTRIES) out.push({ pages: { zeroPfns: changes.zeroPfns.slice(i, i + BATCH_ENTRIES) } });
}

/** `disk_write` events for changed blocks (`pfns` are block numbers) of a disk of `size` bytes in blocks of `bs`. */
export function diskWriteEvents(disk: string, size: number, bs: number, changes: TableChanges, out: IEvent[]): void {
  // Merge changed and zeroed blocks in block order, then cut into writes of at most BATCH_ENTRIES entries.
  type E = { b: number; addr?: Buffer };
  const all: E[] = [];
  let a = 0;
  let z = 0;
  while (a < changes.pfns.length || z < changes.zeroPfns.length) {
    if (z >= changes.zeroPfns.length || (a < changes.pfns.length && changes.pfns[a]! < changes.zeroPfns[z]!)) {
      all.push({ b: changes.pfns[a]!, addr: changes.addrs[a]! });
      a++;
    } else all.push({ b: changes.zeroPfns[z++]! });
  }
  for (let i = 0; i < all.length; i += BATCH_ENTRIES) {
    const group = all.slice(i, i + BATCH_ENTRIES);
    const first = group[0]!.b;
    const last = group[group.length - 1]!.b;
    const blocks: number[] = [];
    const addrs: Buffer[] = [];
    const zeroBlocks: number[] = [];
    for (const e of group) {
      if (e.addr) {
        blocks.push(e.b - first);
        addrs.push(e.addr);
      } else zeroBlocks.push(e.b - first);
    }
    out.push({ diskWrite: { disk, offset: first * bs, length: diskWriteLength(size, bs, first, last - first + 1), blocks, addrs: joinAddrs(addrs), zeroBlocks } });
  }
}
