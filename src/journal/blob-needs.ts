/**
 * What an event asks of the blobs it names: each one's size, and for chunked content
 * (device state, frames, audio) the hash of the whole. The writer refuses an event whose
 * blobs do not meet these, and `verify` checks them, so that whatever is appended and
 * verified also folds (a fold checks the same things).
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { ADDR_LEN } from '../util/hash.js';
import type { ttj } from '../gen/events.js';
import { buf, type Event } from './codec.js';
import { splitAddrs } from './chunks.js';
import type { VmState } from './vm-state.js';

/** A blob an event names, with the size it must have. */
export interface BlobNeed {
  addr: Buffer;
  size: number;
  /** What it is, for messages: "page", "block of disk d0", "chunk 3 of frame 7". */
  what: string;
  /** The short last block of a disk: its bytes from here on lie past the disk's end and must be zero. */
  zeroFrom?: number;
}

/** How a blob check reports: a damaged journal (verify), or input refused (append). */
export type BlobErrorCode = typeof ErrorCodes.CORRUPT_BLOB | typeof ErrorCodes.BAD_EVENT_STREAM;
/** The seq of the event that named need `i`, for error details. */
type SeqOf = (i: number) => number | undefined;

/** Content stored in chunks (device state, a frame), checked as a whole by its hash. */
export interface ChunkedContent {
  chunkAddrs: Buffer;
  contentHash: Buffer;
  length: number;
  what: string;
}

/**
 * The blobs `ev` names and their sizes. For disk writes the disk must be in `state`
 * (an event the state accepted).
 * @throws TtjError CORRUPT_EVENT for a malformed frame (its chunk list does not match its length).
 */
export function blobNeeds(ev: Event, state: VmState, seq: number): BlobNeed[] {
  switch (ev.body) {
    case 'pages':
      return splitAddrs(buf(ev.pages!.addrs)).map((addr) => ({ addr, size: state.pageSize, what: 'memory page' }));
    case 'diskWrite': {
      const w = ev.diskWrite as ttj.v1.DiskWrite;
      const d = state.disks.get(w.disk);
      const bs = d?.blockSize ?? state.pageSize;
      const first = Number(w.offset) / bs;
      const tail = d && d.size % bs ? { block: d.table.count - 1, from: d.size % bs } : undefined;
      const what = `block of disk ${w.disk}`; // one string for the thousands of blocks of a group commit
      return splitAddrs(buf(w.addrs)).map((addr, i) => ({
        addr,
        size: bs,
        what,
        zeroFrom: tail && first + w.blocks[i]! === tail.block ? tail.from : undefined,
      }));
    }
    case 'device':
    case 'frame':
    case 'audio': {
      const c = chunkedContent(ev, seq)!;
      const cs = chunkedBody(ev)!.chunkSize ?? 0;
      return splitAddrs(c.chunkAddrs).map((addr, i) => ({ addr, size: Math.min(cs, c.length - i * cs), what: `chunk ${i} of ${c.what}` }));
    }
    default:
      return [];
  }
}

/**
 * The addresses of the blobs `ev` names (those {@link blobNeeds} checks), without the
 * state: what a sender must make sure the other side has (push).
 * @throws TtjError CORRUPT_EVENT for a malformed device or frame event.
 */
export function namedBlobs(ev: Event, seq: number): Buffer[] {
  switch (ev.body) {
    case 'pages':
      return splitAddrs(buf(ev.pages!.addrs));
    case 'diskWrite':
      return splitAddrs(buf(ev.diskWrite!.addrs));
    case 'device':
    case 'frame':
    case 'audio':
      return splitAddrs(chunkedContent(ev, seq)!.chunkAddrs);
    default:
      return [];
  }
}

/** The chunked body of a device, frame or audio event (undefined for other events). */
function chunkedBody(ev: Event): Pick<ttj.v1.IDeviceState, 'length' | 'chunkSize' | 'chunkAddrs' | 'contentHash'> | undefined {
  return ev.body === 'device' ? ev.device! : ev.body === 'frame' ? ev.frame! : ev.body === 'audio' ? ev.audio! : undefined;
}

/** What a chunked event's content is, for messages. */
function chunkedWhat(ev: Event, seq: number): string {
  if (ev.body === 'device') return 'the device state';
  if (ev.body === 'frame') return `frame ${Number(ev.frame!.frame)}`;
  return `the audio of event ${seq}`;
}

/**
 * The chunked content of a device, frame or audio event (undefined for other events).
 * @throws TtjError CORRUPT_EVENT when its chunk list does not match its length and chunk size.
 */
export function chunkedContent(ev: Event, seq: number): ChunkedContent | undefined {
  const c = chunkedBody(ev);
  if (!c) return undefined;
  const what = chunkedWhat(ev, seq);
  const length = Number(c.length);
  const chunkAddrs = buf(c.chunkAddrs);
  const contentHash = buf(c.contentHash);
  const cs = c.chunkSize ?? 0;
  if (!(cs > 0) || !Number.isSafeInteger(length) || chunkAddrs.length !== Math.ceil(length / cs) * ADDR_LEN || contentHash.length !== ADDR_LEN) {
    throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq}: ${what} has ${chunkAddrs.length / ADDR_LEN} chunk addresses for ${length} bytes in chunks of ${cs}`, { seq });
  }
  return { chunkAddrs, contentHash, length, what };
}

/**
 * The short last blocks among `needs` must be zero past the disk's end, so that the
 * same disk content has one state root. `read` fetches the blobs' bytes.
 * @throws TtjError `code` naming the first one that is not.
 */
export async function checkTails(needs: BlobNeed[], read: (addrs: Buffer[]) => Promise<Buffer[]>, code: BlobErrorCode, seqOf?: SeqOf): Promise<void> {
  const tails = needs.flatMap((n, i) => (n.zeroFrom !== undefined ? [i] : []));
  if (!tails.length) return;
  const data = await read(tails.map((i) => needs[i]!.addr));
  tails.forEach((i, k) => {
    const n = needs[i]!;
    if (data[k]!.subarray(n.zeroFrom).some((b) => b !== 0)) {
      throw new TtjError(code, `blob ${n.addr.toString('hex')} (the short last ${n.what}) has bytes past the disk's end that are not zero`, { addr: n.addr.toString('hex'), seq: seqOf?.(i) });
    }
  });
}

/**
 * Checks each need against the sizes found (undefined: not stored).
 * @throws TtjError `missingCode` for a blob that is not there, `sizeCode` for one of the wrong size.
 */
export function checkSizes(needs: BlobNeed[], sizes: (number | undefined)[], codes: { missing: BlobErrorCode; size: BlobErrorCode }, seqOf?: SeqOf): void {
  needs.forEach((n, i) => {
    const actual = sizes[i];
    const addr = n.addr.toString('hex');
    if (actual === undefined) throw new TtjError(codes.missing, `blob ${addr} (a ${n.what}) is named but not stored`, { addr, seq: seqOf?.(i) });
    if (actual !== n.size) {
      throw new TtjError(codes.size, `blob ${addr} is ${actual} bytes, not the ${n.size} bytes of a ${n.what}`, { addr, seq: seqOf?.(i), expected: n.size, actual });
    }
  });
}
