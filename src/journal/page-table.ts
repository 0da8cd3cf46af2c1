import { createHash } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { ADDR_LEN, sha256, ZERO_ADDR } from '../util/hash.js';

/** Entries per Merkle leaf chunk of a page table (1024 entries = 32 KiB). */
const CHUNK_ENTRIES = 1024;

/**
 * The content address of every page of a memory or every block of a disk
 * (32 zero bytes = all-zero content), with a two-level Merkle root:
 * `root = SHA-256(chunk hash 0 | chunk hash 1 | ...)`, `chunk hash = SHA-256(32-byte entries)`.
 * Only chunks touched since the last root are re-hashed.
 */
export class PageTable {
  readonly entries: Buffer;
  private readonly chunkHashes: Buffer;
  private readonly dirtyChunks = new Set<number>();
  private undo: { i: number; old: Buffer }[] | undefined;

  constructor(
    readonly count: number,
    entries?: Buffer,
    chunkHashes?: Buffer,
  ) {
    this.entries = entries ?? Buffer.alloc(count * ADDR_LEN);
    const chunks = Math.ceil(count / CHUNK_ENTRIES);
    if (chunkHashes) this.chunkHashes = chunkHashes;
    else {
      this.chunkHashes = Buffer.alloc(chunks * ADDR_LEN);
      for (let c = 0; c < chunks; c++) this.dirtyChunks.add(c);
    }
  }

  get chunkCount(): number {
    return Math.ceil(this.count / CHUNK_ENTRIES);
  }

  get(i: number): Buffer {
    return this.entries.subarray(i * ADDR_LEN, (i + 1) * ADDR_LEN);
  }

  isZero(i: number): boolean {
    return this.get(i).equals(ZERO_ADDR);
  }

  set(i: number, addr: Uint8Array): void {
    this.undo?.push({ i, old: Buffer.from(this.get(i)) });
    this.entries.set(addr, i * ADDR_LEN);
    this.dirtyChunks.add(Math.floor(i / CHUNK_ENTRIES));
  }

  setZero(i: number): void {
    this.undo?.push({ i, old: Buffer.from(this.get(i)) });
    this.entries.fill(0, i * ADDR_LEN, (i + 1) * ADDR_LEN);
    this.dirtyChunks.add(Math.floor(i / CHUNK_ENTRIES));
  }

  /** Starts recording changes so that {@link rollback} can undo them. */
  startUndo(): void {
    this.undo = [];
  }

  /** Undoes every change since {@link startUndo}. */
  rollback(): void {
    const u = this.undo;
    this.undo = undefined;
    if (!u) return;
    for (let k = u.length - 1; k >= 0; k--) this.set(u[k]!.i, u[k]!.old);
  }

  /** Keeps the changes since {@link startUndo}. */
  dropUndo(): void {
    this.undo = undefined;
  }

  /** The bytes of Merkle leaf chunk `c` (the blob stored for it in a keyframe). */
  chunk(c: number): Buffer {
    return this.entries.subarray(c * CHUNK_ENTRIES * ADDR_LEN, Math.min(this.count, (c + 1) * CHUNK_ENTRIES) * ADDR_LEN);
  }

  /** Hash of chunk `c` (its content address). */
  chunkHash(c: number): Buffer {
    this.refresh();
    return this.chunkHashes.subarray(c * ADDR_LEN, (c + 1) * ADDR_LEN);
  }

  private refresh(): void {
    for (const c of this.dirtyChunks) sha256(this.chunk(c)).copy(this.chunkHashes, c * ADDR_LEN);
    this.dirtyChunks.clear();
  }

  root(): Buffer {
    this.refresh();
    return createHash('sha256').update(this.chunkHashes).digest();
  }

  clone(): PageTable {
    this.refresh();
    return new PageTable(this.count, Buffer.from(this.entries), Buffer.from(this.chunkHashes));
  }

  /** Builds a table from its chunk blobs (in order). */
  static fromChunks(count: number, chunks: Buffer[]): PageTable {
    const t = new PageTable(count, Buffer.concat(chunks));
    if (t.entries.length !== count * ADDR_LEN) {
      throw new TtjError(ErrorCodes.CORRUPT_BLOB, `a keyframe's page table chunks hold ${t.entries.length / ADDR_LEN} entries, not ${count}`, { expected: count, actual: t.entries.length / ADDR_LEN });
    }
    return t;
  }

  /** Number of non-zero entries. */
  nonZero(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (!this.isZero(i)) n++;
    return n;
  }
}
