/**
 * Reading blobs back from the pack files: located blobs grouped by pack block so that
 * each block is read (and decompressed) once, in file order, a few blocks at a time;
 * items of stored (uncompressed) blocks copied straight from the file, adjacent ones
 * in one read.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { sha256Ranges } from '../native/index.js';
import { sha256, ZERO_ADDR } from '../util/hash.js';
import type { BlobIndex } from './blob-index.js';
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
  ) {}

  async getBlobs(addrs: Buffer[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    const out = new Array<Buffer>(addrs.length);
    await this.readBlobs(addrs, (i, data) => (out[i] = Buffer.from(data)), opts);
    return out;
  }

  async readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts: { verify?: boolean } = {}): Promise<void> {
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
  }

  async readBlobsInto(addrs: Buffer[], target: Buffer, at: number[]): Promise<void> {
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
        this.readBlobsInto(
          whole.map((i) => addrs[i]!),
          target,
          whole.map((i) => at[i]!),
        ),
      ]);
      return;
    }
    const locs = all;
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

  close(): Promise<void> {
    return this.packs.close();
  }

  /**
   * Blobs stored as patches (see {@link BlobLocation.patch}): each base read whole (a
   * base may itself be a patch: read the same way), its patch laid over, the result
   * hashed against its address when `verify`.
   */
  private async readPatched(addrs: Buffer[], locs: BlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean): Promise<void> {
    const out = locs.map((l) => Buffer.alloc(l.patch!.fullLen));
    const bases = new Map<string, { addr: Buffer; into: number[] }>();
    locs.forEach((l, i) => {
      const base = l.patch!.base;
      if (base.equals(ZERO_ADDR)) return;
      const k = base.toString('hex');
      const b = bases.get(k);
      if (b) b.into.push(i);
      else bases.set(k, { addr: base, into: [i] });
    });
    const list = [...bases.values()];
    if (list.length) {
      await this.readBlobs(
        list.map((b) => b.addr),
        (k, data) => {
          for (const i of list[k]!.into) data.copy(out[i]!, 0, 0, out[i]!.length);
        },
        { verify: false },
      );
    }
    await this.readLocated(addrs, locs, (i, data) => data.copy(out[i]!, locs[i]!.patch!.at), false);
    out.forEach((data, i) => {
      if (verify) {
        const actual = sha256(data);
        if (!actual.equals(addrs[i]!)) {
          const l = locs[i]!;
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

  /** {@link readBlobs} of blobs already located: each pack block read (and decompressed) once. */
  private async readLocated(addrs: Buffer[], locs: BlobLocation[], onBlob: (index: number, data: Buffer) => void, verify: boolean): Promise<void> {
    const blocks = byBlock(locs);
    let next = 0;
    // A bulk read (a fold) decompresses into reused buffers of each worker and leaves
    // the block cache alone; small reads share the cache.
    const bulk = blocks.length > BULK_READ_BLOCKS;
    const worker = async () => {
      const scratch: BlockScratch | undefined = bulk ? { packed: Buffer.allocUnsafe(0), raw: Buffer.allocUnsafe(0) } : undefined;
      while (next < blocks.length) {
        const { loc, items } = blocks[next++]!;
        const block = scratch ? await this.packs.readBlockInto(loc, scratch) : await this.packs.readBlock(loc);
        const locsOf = items.map((i) => locs[i]!);
        // All items of a block are hashed in one call (natively, with SHA-NI when there).
        const hashes = verify
          ? sha256Ranges(
              block,
              Uint32Array.from(locsOf, (l) => l.itemOff),
              Uint32Array.from(locsOf, (l) => l.itemLen),
            )
          : undefined;
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
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, blocks.length) }, worker));
  }
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
