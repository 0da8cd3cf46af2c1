/**
 * Reading blobs back from the pack files: located blobs grouped by pack block so that
 * each block is read (and decompressed) once, in file order, a few blocks at a time;
 * items of stored (uncompressed) blocks copied straight from the file, adjacent ones
 * in one read.
 */
import { ErrorCodes, isTtjError, TtjError } from '../errors.js';
import type { JournalCipher } from './cipher.js';
import { sha256Ranges } from '../native/index.js';
import { sha256, ZERO_ADDR } from '../util/hash.js';
import type { BlobIndex } from './blob-index.js';
import { blobKey } from './index-layout.js';
import { isStored, type BlobLocation, type BlockScratch, type PackReader } from './pack-files.js';
import type { ReadIntoOptions } from './store.js';
import type { Placement } from './block-decode.js';
import { notOfSize, putBlob, type BlobTarget } from './blob-target.js';

/** Pack blocks read and decompressed at once. */
const READ_CONCURRENCY = 4;
/** Blobs stored as patches put together at once by {@link BlobReader.readAllLocated}. */
const PATCHED_SLICE = 256;
/** Reads of more blocks than this are bulk reads (see readLocated). */
const BULK_READ_BLOCKS = 8;

export class BlobReader {
  /**
   * The decompression buffers of bulk reads, kept from one read to the next: fresh
   * memory costs a page fault per page on first touch (expensive in a virtual machine),
   * and a fold reads a chunk of pages at a time.
   */
  private readonly spareScratch: BlockScratch[] = [];

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
    await this.retryMoved(addrs, async () => {
      const locs = await this.index.locate(addrs);
      const verify = opts.verify !== false;
      const { whole, patched } = splitPatched(locs);
      if (!patched.length) return this.readLocated(addrs, locs, onBlob, verify);
      await Promise.all([
        this.readLocated(
          whole.map((i) => addrs[i]!),
          whole.map((i) => locs[i]!),
          (k, data) => onBlob(whole[k]!, data),
          verify,
        ),
        this.readPatched(
          patched.map((i) => addrs[i]!),
          patched.map((i) => locs[i]!),
          (k, data) => onBlob(patched[k]!, data),
          verify,
        ),
      ]);
    });
  }

  readBlobsInto(addrs: Buffer[], target: BlobTarget, at: number[], opts: ReadIntoOptions = {}): Promise<void> {
    return this.retryMoved(addrs, () => (opts.verify || !Buffer.isBuffer(target) ? this.readCheckedInto(addrs, target, at, opts.size, opts.verify === true) : this.readInto(addrs, target, at)));
  }

  /**
   * {@link readBlobsInto} with `verify` (each blob checked against its address and its
   * length against `size` before it is put in place), or into a file. In a bulk read into
   * a file the decoding workers check and write the items of plain blocks themselves
   * ({@link Placement}): the JS thread only reads and hands out blocks.
   */
  private async readCheckedInto(addrs: Buffer[], target: BlobTarget, at: number[], size: number | undefined, verify: boolean): Promise<void> {
    const locs = await this.index.locate(addrs);
    if (size !== undefined) {
      const k = locs.findIndex((l) => (l.patch ? l.patch.fullLen : l.itemLen) !== size);
      if (k >= 0) throw notOfSize(addrs[k]!, locs[k]!.patch?.fullLen ?? locs[k]!.itemLen, size);
    }
    const { whole, patched } = splitPatched(locs);
    const wholeAt = whole.map((i) => at[i]!);
    await Promise.all([
      this.readLocated(
        whole.map((i) => addrs[i]!),
        whole.map((i) => locs[i]!),
        (k, data) => putBlob(target, data, wholeAt[k]!),
        verify,
        { target, at: wholeAt },
      ),
      patched.length
        ? this.readPatched(
            patched.map((i) => addrs[i]!),
            patched.map((i) => locs[i]!),
            (k, data) => putBlob(target, data, at[patched[k]!]!),
            verify,
          )
        : undefined,
    ]);
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
    const all = await this.index.locate(addrs);
    const { whole, patched } = splitPatched(all);
    if (patched.length) {
      // Blobs stored as patches are put together first; the rest as below.
      await Promise.all([
        this.readPatched(
          patched.map((i) => addrs[i]!),
          patched.map((i) => all[i]!),
          (k, data) => data.copy(target, at[patched[k]!]!),
          false,
        ),
        this.readInto(
          whole.map((i) => addrs[i]!),
          target,
          whole.map((i) => at[i]!),
        ),
      ]);
      return;
    }
    await this.readItemsInto(addrs, all, target, at);
  }

  /**
   * The items at `locs` of blobs `addrs` (the bytes each holds in its pack block, unchecked)
   * into `target` at `at[i]`; `buffered`: through the page cache (see {@link PackReader.readStored}).
   */
  private async readItemsInto(addrs: Buffer[], locs: BlobLocation[], target: Buffer, at: number[], buffered = false): Promise<void> {
    // Items of stored blocks are copied from the pack files directly, adjacent ones
    // (a write that was appended together) in one read; the rest through the block cache.
    const { runs, viaBlocks } = storedRuns(locs, at);
    const reads = runs.map((r) => this.packs.readStored(r.pack, r.offset, r.itemOff, target, r.at, r.len, buffered));
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
  async readAllLocated(addrs: Buffer[], locs: BlobLocation[], onBlob: (addr: Buffer, data: Buffer) => void): Promise<void> {
    const { whole, patched } = splitPatched(locs);
    await this.readLocated(
      whole.map((i) => addrs[i]!),
      whole.map((i) => locs[i]!),
      (k, data) => onBlob(addrs[whole[k]!]!, data),
      true,
    );
    // Blobs stored as patches are put together from their bases, a slice at a time (each is a whole block in memory).
    for (let s = 0; s < patched.length; s += PATCHED_SLICE) {
      const part = patched.slice(s, s + PATCHED_SLICE);
      await this.readPatched(
        part.map((i) => addrs[i]!),
        part.map((i) => locs[i]!),
        (k, data) => onBlob(addrs[part[k]!]!, data),
        true,
      );
    }
  }

  close(): Promise<void> {
    return this.packs.close();
  }

  /**
   * Blobs stored as patches (see {@link BlobLocation.patch}): each one's chain of
   * patches is located down to its whole (or zero) base first, then the base and all
   * patches are read at once, the patches laid over the base from the deepest up, and
   * the result hashed against its address when `verify`.
   */
  private async readPatched(addrs: Buffer[], locs: BlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean): Promise<void> {
    const chains = locs.map((l) => [l]);
    const bases = locs.map((l) => l.patch!.base);
    const wholeBase: (BlobLocation | undefined)[] = [];
    for (let pending = bases.flatMap((b, i) => (b.equals(ZERO_ADDR) ? [] : [i])); pending.length;) {
      const found = await this.index.locate(pending.map((i) => bases[i]!));
      const next: number[] = [];
      pending.forEach((i, k) => {
        const l = found[k]!;
        if (!l.patch) wholeBase[i] = l;
        else {
          chains[i]!.push(l);
          bases[i] = l.patch.base;
          if (!l.patch.base.equals(ZERO_ADDR)) next.push(i);
        }
      });
      pending = next;
    }
    // One buffer: the blobs, then the bytes of every patch.
    let total = 0;
    const at: number[] = [];
    for (const l of locs) {
      at.push(total);
      total += l.patch!.fullLen;
    }
    const itemAddrs: Buffer[] = [];
    const itemLocs: BlobLocation[] = [];
    const itemAt: number[] = [];
    const patchAt: number[][] = [];
    locs.forEach((_, i) => {
      const base = wholeBase[i];
      if (base) {
        itemAddrs.push(bases[i]!);
        itemLocs.push(base);
        itemAt.push(at[i]!);
      }
      patchAt.push(
        chains[i]!.map((l) => {
          itemAddrs.push(addrs[i]!);
          itemLocs.push(l);
          itemAt.push(total);
          total += l.itemLen;
          return itemAt[itemAt.length - 1]!;
        }),
      );
    });
    const all = Buffer.alloc(total);
    // Through the page cache: patches and the blocks they stand on are mostly small
    // appends of moments ago, still there (a direct read would first write them back).
    await this.readItemsInto(itemAddrs, itemLocs, all, itemAt, true);
    const out = locs.map((l, i) => {
      const data = all.subarray(at[i]!, at[i]! + l.patch!.fullLen);
      const chain = chains[i]!;
      for (let c = chain.length - 1; c >= 0; c--) {
        const p = chain[c]!;
        all.copy(data, p.patch!.at, patchAt[i]![c]!, patchAt[i]![c]! + p.itemLen);
      }
      return data;
    });
    out.forEach((data, i) => {
      if (verify) {
        // An encrypted journal keeps blobs under keyed addresses (./cipher.ts).
        const actual = this.cipher ? this.cipher.storedAddrsPacked(sha256(data)) : sha256(data);
        if (!actual.equals(addrs[i]!)) throw notItsAddress(addrs[i]!, actual, locs[i]!);
      }
      onBlob(i, data);
    });
  }

  /** {@link readBlobs} of blobs already located: each pack block read (and decompressed) once. */
  private async readLocated(addrs: Buffer[], locs: BlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean, into?: { target: BlobTarget; at: number[] }): Promise<void> {
    const blocks = byBlock(locs);
    let next = 0;
    // A bulk read (a fold) decompresses into reused buffers of each worker and leaves
    // the block cache alone; small reads share the cache.
    const bulk = blocks.length > BULK_READ_BLOCKS;
    // Checked and written by the decoding thread, where the target is a file.
    const placing = bulk && verify && into && !Buffer.isBuffer(into.target) ? { fd: into.target.fd, at: into.at } : undefined;
    const worker = async () => {
      const scratch: BlockScratch | undefined = bulk ? (this.spareScratch.pop() ?? { packed: Buffer.alloc(0), raw: Buffer.alloc(0) }) : undefined;
      try {
        await readBlocks(scratch);
      } finally {
        if (scratch && this.spareScratch.length < READ_CONCURRENCY) this.spareScratch.push(scratch);
      }
    };
    const readBlocks = async (scratch: BlockScratch | undefined) => {
      while (next < blocks.length) {
        const { loc, items } = blocks[next++]!;
        const locsOf = items.map((i) => locs[i]!);
        // All items of a block are hashed in one call (natively, with SHA-NI when there;
        // in the decoding worker for a bulk read).
        const ranges = verify ? { offsets: Uint32Array.from(locsOf, (l) => l.itemOff), lengths: Uint32Array.from(locsOf, (l) => l.itemLen) } : undefined;
        let block: Buffer;
        let hashes: Buffer | undefined;
        if (placing && scratch) {
          const d = await this.packs.readBlockInto(loc, scratch, ranges, placement(placing, items, addrs, this.cipher));
          if (d.mismatch !== undefined) {
            const actual = d.hashes!.subarray(d.mismatch * 32, d.mismatch * 32 + 32);
            throw notItsAddress(addrs[items[d.mismatch]!]!, this.cipher ? this.cipher.storedAddrsPacked(actual) : actual, locsOf[d.mismatch]!);
          }
          continue;
        }
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
            if (!actual.equals(addrs[i]!)) throw notItsAddress(addrs[i]!, actual, l);
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

/** The failure of a blob read from `loc` whose bytes hash to `actual`, not to its address. */
function notItsAddress(addr: Buffer, actual: Buffer, loc: BlobLocation): TtjError {
  const hex = addr.toString('hex');
  return new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${hex} does not hash to its address`, { addr: hex, expected: hex, actual: actual.toString('hex'), pack: loc.pack, offset: loc.offset });
}

/**
 * The {@link Placement} of a block's `items` (indexes into `addrs` and `into.at`). An
 * encrypted journal's keyed addresses are turned back into the content addresses the
 * decoding thread compares the SHA-256 of the items with (the keying is one to one).
 */
function placement(into: { fd: number; at: number[] }, items: number[], addrs: Buffer[], cipher: JournalCipher | undefined): Placement {
  const packed = Buffer.alloc(32 * items.length);
  items.forEach((i, k) => addrs[i]!.copy(packed, k * 32));
  return { fd: into.fd, at: Float64Array.from(items, (i) => into.at[i]!), expect: cipher ? cipher.plainAddrsPacked(packed) : packed };
}

/** Indexes of the locations of whole blobs and of blobs stored as patches. */
function splitPatched(locs: BlobLocation[]): { whole: number[]; patched: number[] } {
  const whole: number[] = [];
  const patched: number[] = [];
  locs.forEach((l, i) => (l.patch ? patched : whole).push(i));
  return { whole, patched };
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
