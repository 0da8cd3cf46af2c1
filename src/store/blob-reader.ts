/**
 * Reading blobs back from the pack files: located blobs grouped by pack block so that
 * each block is read (and decompressed) once, in file order, a few blocks at a time;
 * items of stored (uncompressed) blocks copied straight from the file, adjacent ones
 * in one read.
 */
import { ErrorCodes, isTtjError, TtjError } from '../errors.js';
import type { JournalCipher } from './cipher.js';
import { sha256Ranges } from '../native/index.js';
import type { BlobIndex } from './blob-index.js';
import { blobKey } from './index-layout.js';
import { isStored, type BlobLocation, type BlockScratch, type PackReader } from './pack-files.js';

/** Pack blocks read and decompressed at once. */
const READ_CONCURRENCY = 4;
/** Reads of more blocks than this are bulk reads (see readLocated). */
const BULK_READ_BLOCKS = 8;

export class BlobReader {
  /** Reads the blobs that `index` locates from `packs` (and closes `packs` on {@link close}). */
  constructor(
    private readonly index: BlobIndex,
    private readonly packs: PackReader,
    /** An encrypted journal's cipher: blob addresses are keyed (../store/cipher.ts). */
    private readonly cipher?: JournalCipher,
  ) {}

  async getBlobs(addrs: Buffer[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    const out = new Array<Buffer>(addrs.length);
    await this.readBlobs(addrs, (i, data) => (out[i] = Buffer.from(data)), opts);
    return out;
  }

  async readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts: { verify?: boolean } = {}): Promise<void> {
    await this.retryMoved(addrs, async () => this.readLocated(addrs, await this.index.locate(addrs), onBlob, opts.verify !== false));
  }

  readBlobsInto(addrs: Buffer[], target: Buffer, at: number[]): Promise<void> {
    return this.retryMoved(addrs, () => this.readInto(addrs, target, at));
  }

  /**
   * Runs a read again, once, with fresh locations when it met a pack file that is gone or
   * cut short: a prune's compaction (src/store/pack-compaction.ts) moved the blobs after
   * their locations were looked up. A second failure is reported.
   */
  private async retryMoved(addrs: Buffer[], read: () => Promise<void>): Promise<void> {
    try {
      await read();
    } catch (e) {
      if (!isTtjError(e) || e.code !== ErrorCodes.CORRUPT_BLOB || e.details.addr !== undefined) throw e;
      this.index.forget(addrs.map(blobKey));
      if (typeof e.details.pack === 'number') await this.packs.forget(e.details.pack);
      await read();
    }
  }

  private async readInto(addrs: Buffer[], target: Buffer, at: number[]): Promise<void> {
    const locs = await this.index.locate(addrs);
    // Items of stored blocks are copied from the pack files directly, adjacent ones
    // (a write that was appended together) in one read; the rest through the block cache.
    const { runs, viaBlocks } = storedRuns(locs, at);
    const reads = runs.map((r) => this.packs.readStored(r.pack, r.offset, r.itemOff, target, r.at, r.len));
    if (viaBlocks.length) {
      reads.push(
        this.readLocated(
          viaBlocks.map((i) => addrs[i]!),
          viaBlocks.map((i) => locs[i]!),
          (k, data) => data.copy(target, at[viaBlocks[k]!]!),
          false,
        ),
      );
    }
    await Promise.all(reads);
  }

  /** Every blob located by `locs` (in storage order), each block read and decoded once, checked against `addrs`. */
  readAllLocated(addrs: Buffer[], locs: BlobLocation[], onBlob: (addr: Buffer, data: Buffer) => void): Promise<void> {
    return this.readLocated(addrs, locs, (i, data) => onBlob(addrs[i]!, data), true);
  }

  close(): Promise<void> {
    return this.packs.close();
  }

  /** {@link readBlobs} of blobs already located: each pack block read (and decompressed) once. */
  private async readLocated(addrs: Buffer[], locs: BlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean): Promise<void> {
    const blocks = byBlock(locs);
    let next = 0;
    // A bulk read (a fold) decompresses into reused buffers of each worker and leaves
    // the block cache alone; small reads share the cache.
    const bulk = blocks.length > BULK_READ_BLOCKS;
    const worker = async () => {
      const scratch: BlockScratch | undefined = bulk ? { packed: Buffer.alloc(0), raw: Buffer.alloc(0) } : undefined;
      while (next < blocks.length) {
        const { loc, items } = blocks[next++]!;
        const locsOf = items.map((i) => locs[i]!);
        // All items of a block are hashed in one call (natively, with SHA-NI when there;
        // in the decoding worker for a bulk read).
        const ranges = verify ? { offsets: Uint32Array.from(locsOf, (l) => l.itemOff), lengths: Uint32Array.from(locsOf, (l) => l.itemLen) } : undefined;
        let block: Buffer;
        let hashes: Buffer | undefined;
        if (scratch) ({ items: block, hashes } = await this.packs.readBlockInto(loc, scratch, ranges));
        else {
          block = await this.packs.readBlock(loc);
          hashes = ranges ? sha256Ranges(block, ranges.offsets, ranges.lengths) : undefined;
        }
        // An encrypted journal keeps blobs under keyed addresses (./cipher.ts).
        if (hashes && this.cipher) hashes = this.cipher.storedAddrsPacked(hashes);
        items.forEach((i, k) => {
          const l = locsOf[k]!;
          const data = block.subarray(l.itemOff, l.itemOff + l.itemLen);
          if (hashes) {
            const actual = hashes.subarray(k * 32, (k + 1) * 32);
            if (!actual.equals(addrs[i]!)) {
              throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} does not hash to its address`, {
                addr: addrs[i]!.toString('hex'),
                expected: addrs[i]!.toString('hex'),
                actual: actual.toString('hex'),
                pack: l.pack,
                offset: l.offset,
              });
            }
          }
          onBlob(i, data);
        });
      }
    };
    // On a failure the other readers stop at their next block, and all have stopped
    // before the failure is thrown (none reads on after the caller closed the store).
    const readers = Array.from({ length: Math.min(READ_CONCURRENCY, blocks.length) }, () =>
      worker().catch((e: unknown) => {
        next = blocks.length;
        throw e;
      }),
    );
    const failed = (await Promise.allSettled(readers)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** The blocks that hold `locs`, each with the indexes of its items, in file order (few, large, sequential reads). */
function byBlock(locs: BlobLocation[]): { loc: BlobLocation; items: number[] }[] {
  const blocks = new Map<string, { loc: BlobLocation; items: number[] }>();
  locs.forEach((loc, i) => {
    const k = `${loc.pack}:${loc.offset}`;
    const b = blocks.get(k);
    if (b) b.items.push(i);
    else blocks.set(k, { loc, items: [i] });
  });
  return [...blocks.values()].sort((a, b) => a.loc.pack - b.loc.pack || a.loc.offset - b.loc.offset);
}

/** One read from a stored block: `len` bytes from item offset `itemOff` of block `offset` of pack `pack`, to `at`. */
interface StoredRun {
  pack: number;
  offset: number;
  itemOff: number;
  at: number;
  len: number;
}

/**
 * The items of stored blocks as runs (items adjacent both in their block and at their
 * targets `at[i]` make one run), and the indexes of the others (in compressed blocks).
 */
function storedRuns(locs: BlobLocation[], at: number[]): { runs: StoredRun[]; viaBlocks: number[] } {
  const runs: StoredRun[] = [];
  const viaBlocks: number[] = [];
  const order = locs.map((_, i) => i).sort((a, b) => locs[a]!.pack - locs[b]!.pack || locs[a]!.offset - locs[b]!.offset || locs[a]!.itemOff - locs[b]!.itemOff);
  for (const i of order) {
    const l = locs[i]!;
    if (!isStored(l)) {
      viaBlocks.push(i);
      continue;
    }
    const last = runs[runs.length - 1];
    if (last && last.pack === l.pack && last.offset === l.offset && last.itemOff + last.len === l.itemOff && last.at + last.len === at[i]) last.len += l.itemLen;
    else runs.push({ pack: l.pack, offset: l.offset, itemOff: l.itemOff, at: at[i]!, len: l.itemLen });
  }
  return { runs, viaBlocks };
}
