import { ErrorCodes, TtjError } from '../errors.js';
import { ADDR_LEN, ZERO_ADDR } from '../util/hash.js';
import { buf } from './codec.js';
import { diskBlockCount } from './disk-geometry.js';
import type { Journal } from './journal.js';
import type { ttj } from '../gen/events.js';

/** What to blame: a memory page (by page frame number or by a physical address in it), or the disk block holding a byte offset. */
export type BlameTarget = { page: number } | { phys: number } | { disk: string; offset: number };

/** The page or block blamed. */
export type BlamedEntry =
  /** Page `pfn` of memory: bytes `phys`..`phys + size - 1`. */
  | { kind: 'page'; pfn: number; phys: number; size: number }
  /** Block `block` of disk `disk`: bytes `offset`..`offset + size - 1` (a short last block ends at the disk's end). */
  | { kind: 'block'; disk: string; block: number; offset: number; size: number };

/** One change of the page or block's content. */
export interface BlameChange {
  /** The event that made it (`seq:N` folds a disk with it; memory changes take effect at their epoch's commit). */
  seq: number;
  /** The epoch it belongs to; null for a disk write outside any epoch (the NBD server's). */
  epoch: number | null;
  /** ISO-8601 time of the event. */
  time: string;
  timeUs: number;
  /** The frame nearest to where the change takes effect in the stream (the later one on a tie); absent in a journal without frames. */
  frame?: number;
  /** The new content's address (hex SHA-256); absent when the content became all zero. */
  addr?: string;
  zero: boolean;
}

/** `ttj blame --json`. */
export interface BlameResult {
  journal: string;
  target: BlamedEntry;
  /** Every change of the content, oldest first. A write that leaves the content as it was is not one. */
  changes: BlameChange[];
}

/**
 * Every change of one memory page or disk block through the history, oldest first:
 * one walk over the events (memory changes counted at their epoch's commit, so a page
 * written twice in one epoch is one change; a disk write at its own seq).
 * @throws TtjError BAD_ARGUMENT (no such disk, an offset or page past its end, a journal without memory).
 */
export async function blame(j: Journal, target: BlameTarget): Promise<BlameResult> {
  if ('disk' in target) return blameBlock(j, target.disk, target.offset);
  const pfn = 'page' in target ? target.page : Math.floor(target.phys / j.pageSize);
  const n = 'page' in target ? target.page : target.phys;
  if (!Number.isSafeInteger(n) || n < 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `${'page' in target ? 'page' : 'physical address'} ${n} is not a whole number ≥ 0`, { actual: n });
  return blamePage(j, pfn);
}

/** Where a change takes effect, and how it is reported. */
type Found = Omit<BlameChange, 'frame'> & { effectiveSeq: number };

async function blamePage(j: Journal, pfn: number): Promise<BlameResult> {
  const ps = j.pageSize;
  const found: Found[] = [];
  const frames: { frame: number; seq: number }[] = [];
  let current: Buffer = ZERO_ADDR;
  let pending: { addr: Buffer; seq: number; timeUs: number } | undefined;
  let memory = false;
  for await (const { seq, event: ev } of j.events()) {
    switch (ev.body) {
      case 'epochBegin':
        pending = undefined;
        break;
      case 'memoryLayout': {
        const pages = Number(ev.memoryLayout!.size) / ps;
        if (pfn >= pages) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `page ${pfn} is past the end of memory (${pages} pages)`, { actual: pfn, max: pages - 1 });
        memory = true;
        break;
      }
      case 'pages': {
        // As VmState applies a batch: its addresses first, then its zero pages.
        const p = ev.pages as ttj.v1.PageBatch;
        const i = p.pfns.lastIndexOf(pfn);
        if (i >= 0) pending = { addr: Buffer.from(buf(p.addrs).subarray(i * ADDR_LEN, (i + 1) * ADDR_LEN)), seq, timeUs: Number(ev.timeUs) };
        if (p.zeroPfns.includes(pfn)) pending = { addr: ZERO_ADDR, seq, timeUs: Number(ev.timeUs) };
        break;
      }
      case 'epochCommit':
        if (pending && !pending.addr.equals(current)) {
          current = pending.addr;
          found.push({ ...change(pending.seq, Number(ev.epochCommit!.epoch), pending.timeUs, current), effectiveSeq: seq });
        }
        pending = undefined;
        break;
      case 'frame':
        frames.push({ frame: Number(ev.frame!.frame), seq });
        break;
      default:
        break;
    }
  }
  if (!memory) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the journal has no memory', { actual: pfn });
  return { journal: j.location, target: { kind: 'page', pfn, phys: pfn * ps, size: ps }, changes: withFrames(found, frames) };
}

async function blameBlock(j: Journal, disk: string, offset: number): Promise<BlameResult> {
  const stats = (await j.diskStats()).find((d) => d.disk === disk);
  if (!stats) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the journal has no disk ${JSON.stringify(disk)}`, { disk });
  const bs = stats.blockSize ?? j.pageSize;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= stats.size) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `offset ${offset} is past the end of disk ${disk} (${stats.size} bytes)`, { disk, actual: offset, max: stats.size - 1 });
  }
  const block = Math.floor(offset / bs);
  const found: Found[] = [];
  const frames: { frame: number; seq: number }[] = [];
  let current: Buffer = ZERO_ADDR;
  let epoch: number | null = null;
  for await (const { seq, event: ev } of j.events()) {
    switch (ev.body) {
      case 'epochBegin':
        epoch = Number(ev.epochBegin!.epoch);
        break;
      case 'epochCommit':
        epoch = null;
        break;
      case 'diskWrite': {
        const w = ev.diskWrite as ttj.v1.DiskWrite;
        if (w.disk !== disk) break;
        const first = Number(w.offset) / bs;
        const rel = block - first;
        if (rel < 0 || rel >= diskBlockCount(Number(w.length), bs)) break;
        // As VmState applies a write: its addresses first, then its zero blocks.
        let next: Buffer | undefined;
        const i = w.blocks.lastIndexOf(rel);
        if (i >= 0) next = buf(w.addrs).subarray(i * ADDR_LEN, (i + 1) * ADDR_LEN);
        if (w.zeroBlocks.includes(rel)) next = ZERO_ADDR;
        if (next && !next.equals(current)) {
          current = Buffer.from(next);
          found.push({ ...change(seq, epoch, Number(ev.timeUs), current), effectiveSeq: seq });
        }
        break;
      }
      case 'frame':
        frames.push({ frame: Number(ev.frame!.frame), seq });
        break;
      default:
        break;
    }
  }
  const start = block * bs;
  return { journal: j.location, target: { kind: 'block', disk, block, offset: start, size: Math.min(bs, stats.size - start) }, changes: withFrames(found, frames) };
}

function change(seq: number, epoch: number | null, timeUs: number, addr: Buffer): Omit<BlameChange, 'frame'> {
  const zero = addr.equals(ZERO_ADDR);
  return { seq, epoch, time: new Date(timeUs / 1000).toISOString(), timeUs, addr: zero ? undefined : addr.toString('hex'), zero };
}

/** Each change with the frame nearest to where it takes effect (frames ascend by seq). */
function withFrames(found: Found[], frames: { frame: number; seq: number }[]): BlameChange[] {
  return found.map(({ effectiveSeq, ...c }) => {
    // The first frame after the change, and the one before it.
    let lo = 0;
    let hi = frames.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (frames[mid]!.seq > effectiveSeq) hi = mid;
      else lo = mid + 1;
    }
    const after = frames[lo];
    const before = frames[lo - 1];
    const nearest = after && (!before || after.seq - effectiveSeq <= effectiveSeq - before.seq) ? after : before;
    return nearest ? { ...c, frame: nearest.frame } : c;
  });
}
