import { ErrorCodes, TtjError, isTtjError, type AnyTtjError } from '../errors.js';
import type { IEvent } from '../journal/codec.js';
import type { Journal } from '../journal/journal.js';
import type { PageTable } from '../journal/page-table.js';
import type { DiskState } from '../journal/vm-state.js';
import type { JournalWriter } from '../journal/writer.js';
import type { BlobPut } from '../store/store.js';
import { sha256BuffersAsync } from '../native/index.js';
import { Sha256Batcher } from '../native/sha256-batcher.js';
import { zeroPage } from '../util/zero-page.js';
import { ZERO_ADDR } from '../util/hash.js';
import type { BlockDevice } from './nbd/block-device.js';
import { BlockBases } from './block-bases.js';

/** Largest number of queued writes committed together (group commit). */
const GROUP_COMMIT_MAX = 512;

/** Bytes of recently written disk blocks kept as the bases of later small writes. */
const RECENT_BLOCKS_BYTES = 64 * 1024 * 1024;

interface PendingWrite {
  offset: number;
  length: number;
  /** undefined = zeroes */
  data?: Buffer;
  fua: boolean;
  /**
   * For a block-aligned write: its blocks' zero flags and the SHA-256 of its non-zero
   * blocks, started as the write arrived (hashing overlaps receiving the next ones).
   */
  hashed?: Promise<{ zero: boolean[]; hashes: Buffer }>;
  resolve(): void;
  reject(e: unknown): void;
}

/** Journal write failures that come from where the journal is, not from the write. */
const JOURNAL_ENVIRONMENT = new Set<string>([ErrorCodes.NO_SPACE, ErrorCodes.READ_ONLY, ErrorCodes.PERMISSION]);

/**
 * A journal's disk as a block device (served over NBD by `ttj nbd` and `ttj record`).
 * Live: every write is appended to the journal as a disk-write event before its
 * promise resolves (writes arriving together are committed together); FUA writes
 * and FLUSH are fsync'ed. Snapshot: the disk as it was at a point, read-only.
 */
export class JournalBlockDevice implements BlockDevice {
  readonly size: number;
  readonly blockSize: number;
  readonly canMultiConn = true;
  private queue: PendingWrite[] = [];
  private draining: Promise<void> | undefined;
  /** Writes committed by this device (for tests and `ttj nbd` output). */
  writes = 0;
  /**
   * The first failure to journal writes because of where the journal is (a full disk, a
   * read-only file system, no permission): QEMU then sees the write fail and may stop the
   * guest, and `ttj record` reports this cause rather than what it led to.
   */
  journalError: AnyTtjError | undefined;
  private gate: Promise<void> | undefined;
  /** Blocks of groups built but not committed yet (the base of later read-modify-writes), with their addresses. */
  private readonly uncommitted = new Map<number, { data: Buffer; addr: Buffer }>();
  private openGate: (() => void) | undefined;
  /** Hashes the blocks of writes as they arrive, those of one event-loop turn together. */
  private readonly hasher = new Sha256Batcher();
  /** Old contents of blocks that small writes change in part: recent blocks, and reads started as the writes arrive. */
  private readonly bases: BlockBases;

  private constructor(
    private readonly journal: Journal,
    private readonly disk: string,
    private readonly table: () => PageTable,
    private readonly writer: JournalWriter | undefined,
    size: number,
    blockSize: number,
  ) {
    this.size = size;
    this.blockSize = blockSize;
    this.bases = new BlockBases(
      blockSize,
      async (addrs) => {
        const out = Buffer.allocUnsafe(addrs.length * blockSize);
        await this.journal.readBlobsInto(
          addrs,
          out,
          addrs.map((_, i) => i * blockSize),
        );
        return out;
      },
      writer ? RECENT_BLOCKS_BYTES : 0,
    );
  }

  get readOnly(): boolean {
    return !this.writer;
  }

  /**
   * The disk at the writer's head; writes are journaled.
   * @throws TtjError BAD_ARGUMENT when the journal has no such disk.
   */
  static live(writer: JournalWriter, disk: string): JournalBlockDevice {
    const d = writer.headState.disks.get(disk);
    if (!d) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the journal has no disk ${JSON.stringify(disk)} (create it with ttj append --disk ${disk}=FILE)`, { disk });
    return new JournalBlockDevice(writer, disk, () => writer.headState.disks.get(disk)!.table, writer, d.size, d.blockSize);
  }

  /** The disk as given by a folded table (a past point), read-only. */
  static snapshot(journal: Journal, disk: string, state: DiskState): JournalBlockDevice {
    const table = state.table;
    return new JournalBlockDevice(journal, disk, () => table, undefined, state.size, state.blockSize);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(out, 0, offset, length);
    return out;
  }

  async readInto(target: Buffer, targetOffset: number, offset: number, length: number): Promise<void> {
    const bs = this.blockSize;
    const table = this.table();
    const b0 = Math.floor(offset / bs);
    const b1 = Math.ceil((offset + length) / bs);
    // Whole blocks go straight into the target; the partial ones at the edges are copied.
    const whole: number[] = [];
    const at: number[] = [];
    const edges: Buffer[] = [];
    const edgeBlocks: number[] = [];
    for (let b = b0; b < b1; b++) {
      const start = b * bs;
      const from = Math.max(start, offset);
      const to = Math.min(start + bs, offset + length);
      if (from === start && to === start + bs) {
        whole.push(b);
        at.push(targetOffset + (start - offset));
      } else if (table.isZero(b)) target.fill(0, targetOffset + (from - offset), targetOffset + (to - offset));
      else {
        edges.push(Buffer.from(table.get(b)));
        edgeBlocks.push(b);
      }
    }
    const reads: Promise<void>[] = [this.readBlocks(table, whole, target, at)];
    if (edges.length) {
      // The zstd frame checksum guards these reads; fold and verify re-hash with SHA-256.
      reads.push(
        this.journal.readBlobs(
          edges,
          (i, data) => {
            const start = edgeBlocks[i]! * bs;
            const from = Math.max(start, offset);
            const to = Math.min(start + bs, offset + length);
            data.copy(target, targetOffset + (from - offset), from - start, to - start);
          },
          { verify: false },
        ),
      );
    }
    await Promise.all(reads);
  }

  /** Whole blocks `blocks[i]` of `table` into `target` at `at[i]`: zero blocks filled here, the others read from the store. */
  private async readBlocks(table: PageTable, blocks: number[], target: Buffer, at: number[]): Promise<void> {
    const bs = this.blockSize;
    const addrs: Buffer[] = [];
    const where: number[] = [];
    blocks.forEach((b, i) => {
      if (table.isZero(b)) target.fill(0, at[i]!, at[i]! + bs);
      else {
        addrs.push(Buffer.from(table.get(b)));
        where.push(at[i]!);
      }
    });
    if (addrs.length) await this.journal.readBlobsInto(addrs, target, where);
  }

  write(offset: number, data: Buffer, opts: { fua: boolean }): Promise<void> {
    this.prefetchEdges(offset, data.length);
    return this.enqueue(offset, data.length, data, opts.fua, this.hashAligned(offset, data));
  }

  /**
   * Starts reading the old content of the blocks a write changes only in part (at its
   * edges), so that it is there, or under way, when the write's group is built. A block
   * a group not committed yet wrote needs no read (see {@link build}).
   */
  private prefetchEdges(offset: number, length: number): void {
    if (!this.writer || length === 0) return;
    const table = this.table();
    for (const b of this.edgeBlocks(offset, length)) {
      if (!this.uncommitted.has(b) && !table.isZero(b)) this.bases.prefetch(b, table.get(b));
    }
  }

  /** The blocks a write of `length` bytes at `offset` changes only in part: none, one or two (its first and last). */
  private edgeBlocks(offset: number, length: number): number[] {
    const bs = this.blockSize;
    const b0 = Math.floor(offset / bs);
    const b1 = Math.ceil((offset + length) / bs);
    const edges: number[] = [];
    if (offset % bs) edges.push(b0);
    if (offset + length !== this.blocksEnd(b1) && !(b1 - 1 === b0 && offset % bs)) edges.push(b1 - 1);
    return edges;
  }

  /** Zero flags and hashes of a block-aligned write's blocks (undefined for an unaligned one). */
  private hashAligned(offset: number, data: Buffer): PendingWrite['hashed'] {
    const bs = this.blockSize;
    if (!this.writer || offset % bs || data.length % bs || data.length === 0) return undefined;
    const zero: boolean[] = [];
    const blocks: Buffer[] = [];
    const z = zeroPage(bs);
    for (let at = 0; at < data.length; at += bs) {
      const block = data.subarray(at, at + bs);
      const isZero = block.equals(z);
      zero.push(isZero);
      if (!isZero) blocks.push(block);
    }
    const p = this.hasher.hash(blocks).then((hashes) => ({ zero, hashes }));
    p.catch(() => undefined);
    return p;
  }

  writeZeroes(offset: number, length: number, opts: { fua: boolean; mayTrim: boolean }): Promise<void> {
    this.prefetchEdges(offset, length);
    return this.enqueue(offset, length, undefined, opts.fua);
  }

  /** Trimmed ranges read back as zeroes (the journal records them as zeroed blocks). */
  trim(offset: number, length: number): Promise<void> {
    this.prefetchEdges(offset, length);
    return this.enqueue(offset, length, undefined, false);
  }

  async flush(): Promise<void> {
    if (!this.writer) return;
    while (this.draining) await this.draining;
    try {
      await this.writer.sync();
    } catch (e) {
      // QEMU flushes its disks as a device-state save completes: a full disk fails that save.
      this.noteJournalError(e);
      throw e;
    }
  }

  /** Keeps the first failure that comes from where the journal is (see {@link journalError}). */
  private noteJournalError(e: unknown): void {
    if (!this.journalError && isTtjError(e) && JOURNAL_ENVIRONMENT.has(e.code)) this.journalError = e;
  }

  /**
   * Holds writes back (they queue, unacknowledged) until {@link release}: `ttj record`
   * holds them from an epoch's pause until its commit, so the epoch's disk state is
   * exactly the disk at the pause.
   */
  hold(): void {
    if (!this.gate) this.gate = new Promise((r) => (this.openGate = r));
  }

  release(): void {
    const open = this.openGate;
    this.gate = undefined;
    this.openGate = undefined;
    open?.();
  }

  private enqueue(offset: number, length: number, data: Buffer | undefined, fua: boolean, hashed?: PendingWrite['hashed']): Promise<void> {
    if (!this.writer) return Promise.reject(new TtjError(ErrorCodes.READ_ONLY, `disk ${this.disk} is served read-only`));
    return new Promise((resolve, reject) => {
      this.queue.push({ offset, length, data, fua, hashed, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length) this.kick();
    });
  }

  /**
   * Commits queued writes in groups, pipelined: while one group is being committed
   * (pack write, LevelDB batch), the next one is built (read-modify-write of edge
   * blocks, SHA-256). Writes are acknowledged only when their group's commit resolved.
   * If a commit fails, every group built on top of it fails too (their edge blocks
   * may hold its bytes), so the journal never holds a write whose base was lost.
   */
  private async drain(): Promise<void> {
    let previous: Promise<void> = Promise.resolve();
    let failure: unknown;
    const inFlight = new Set<Promise<void>>();
    while (this.queue.length) {
      while (this.gate) await this.gate;
      // One group committing and one being built at a time; a group takes every write
      // queued by the time there is room for it.
      if (inFlight.size >= 2) {
        await Promise.race(inFlight);
        continue;
      }
      if (failure !== undefined && inFlight.size === 0) failure = undefined;
      const ops = this.queue.splice(0, GROUP_COMMIT_MAX);
      let built: { bodies: IEvent[]; blobs: BlobPut[]; written: Map<number, { data: Buffer; addr: Buffer }> };
      try {
        built = await this.build(ops);
      } catch (e) {
        for (const o of ops) o.reject(e);
        continue;
      }
      for (const [b, data] of built.written) this.uncommitted.set(b, data);
      const after = previous;
      const commit = (async () => {
        try {
          await after.catch(() => undefined);
          if (failure !== undefined) throw failure;
          await this.writer!.commit(built.bodies, built.blobs, { sync: ops.some((o) => o.fua) });
          this.rememberWritten(ops, built.written);
          this.writes += ops.length;
          for (const o of ops) o.resolve();
        } catch (e) {
          failure ??= e;
          this.noteJournalError(e);
          for (const o of ops) o.reject(e);
        } finally {
          for (const [b, data] of built.written) if (this.uncommitted.get(b) === data) this.uncommitted.delete(b);
        }
      })();
      previous = commit;
      inFlight.add(commit);
      void commit.finally(() => inFlight.delete(commit));
    }
    await Promise.all(inFlight);
  }

  /**
   * Keeps the blocks a committed group wrote as the bases of later small writes; those
   * that are a write's payload are copied (the NBD server reuses its buffer once acknowledged).
   */
  private rememberWritten(ops: PendingWrite[], written: Map<number, { data: Buffer; addr: Buffer }>): void {
    const payloads = new Set(ops.map((o) => o.data?.buffer));
    for (const [b, { data, addr }] of written) {
      if (addr.equals(ZERO_ADDR)) this.bases.forget(b);
      else this.bases.remember(b, addr, payloads.has(data.buffer) ? Buffer.from(data) : data);
    }
  }

  /** The end of blocks `[.., b1)` on the disk: `b1` whole blocks, or the disk's end inside a short last block. */
  private blocksEnd(b1: number): number {
    return Math.min(b1 * this.blockSize, this.size);
  }

  /** Turns writes into block-aligned disk-write events (read-modify-write at the edges). */
  private async build(ops: PendingWrite[]): Promise<{ bodies: IEvent[]; blobs: BlobPut[]; written: Map<number, { data: Buffer; addr: Buffer }> }> {
    const bs = this.blockSize;
    const zero = zeroPage(bs);
    const overlay = new Map<number, Buffer>(); // blocks written earlier in this group
    const bodies: IEvent[] = [];
    const blobs: BlobPut[] = [];
    const datas: Buffer[] = [];
    const owners: { body: IEvent; count: number }[] = [];
    // The old content of every edge block that no earlier write of this group (or of a
    // group not committed yet) wrote: read all at once, before building.
    const touched = new Set<number>();
    const fetch: number[] = [];
    const old = new Map<number, Buffer>();
    // The address of each edge block's old content (the base of its patch).
    const oldAddr = new Map<number, Buffer>();
    const table = this.table();
    /** Reads of old contents under way (started as the writes arrived). */
    const arriving: Promise<void>[] = [];
    const need = (b: number) => {
      if (touched.has(b) || old.has(b) || oldAddr.has(b)) return;
      // Copied now: its group may commit while we read, and the NBD server then reuses
      // that write's buffer for another request.
      const pending = this.uncommitted.get(b);
      if (pending) {
        old.set(b, Buffer.from(pending.data));
        oldAddr.set(b, pending.addr);
        return;
      }
      const addr = table.isZero(b) ? ZERO_ADDR : Buffer.from(table.get(b));
      oldAddr.set(b, addr);
      const known = addr === ZERO_ADDR ? undefined : this.bases.take(b, addr);
      if (Buffer.isBuffer(known)) old.set(b, known);
      else if (known) arriving.push(known.then((d) => void (d ? old.set(b, d) : fetch.push(b))));
      else fetch.push(b);
    };
    for (const op of ops) {
      const b0 = Math.floor(op.offset / bs);
      const b1 = Math.ceil((op.offset + op.length) / bs);
      for (const b of this.edgeBlocks(op.offset, op.length)) need(b);
      for (let b = b0; b < b1; b++) touched.add(b);
    }
    await Promise.all(arriving);
    if (fetch.length) {
      // One store call for all of them (one location lookup, the reads in parallel).
      const bytes = Buffer.allocUnsafe(fetch.length * bs);
      await this.readBlocks(
        table,
        fetch,
        bytes,
        fetch.map((_, i) => i * bs),
      );
      fetch.forEach((b, i) => old.set(b, bytes.subarray(i * bs, (i + 1) * bs)));
    }
    const base = (b: number, into: Buffer, at: number): void => {
      const o = overlay.get(b) ?? old.get(b);
      if (!o) throw new TtjError(ErrorCodes.INTERNAL, `block ${b} of disk ${this.disk} was not read before its write`);
      o.copy(into, at);
    };
    const pre = await Promise.all(ops.map((o) => o.hashed));
    /** Hashes known per new block (from a pre-hashed write), undefined = hash here. */
    const known: (Buffer | undefined)[] = [];
    /**
     * Per new block that a write changes only in part: its base (an address, or the
     * index of a new block of this group, known once hashed) and the changed range.
     */
    const patches: ({ base: Buffer | number; at: number; length: number } | undefined)[] = [];
    /** Each block's content as this group leaves it so far: an address, or the index of a new block. */
    const now = new Map<number, Buffer | number>();
    for (const [n, op] of ops.entries()) {
      const b0 = Math.floor(op.offset / bs);
      const b1 = Math.ceil((op.offset + op.length) / bs);
      const start = b0 * bs;
      const end = b1 * bs;
      // Where the disk's bytes end: `end`, or the disk's end inside a short last block.
      const stop = this.blocksEnd(b1);
      const h = pre[n];
      if (h) {
        // A block-aligned write hashed on arrival: its blocks as they are.
        const blocks: number[] = [];
        const zeroBlocks: number[] = [];
        let k = 0;
        for (let i = 0; i < b1 - b0; i++) {
          const block = op.data!.subarray(i * bs, (i + 1) * bs);
          overlay.set(b0 + i, h.zero[i] ? zero : block);
          if (h.zero[i]) {
            zeroBlocks.push(i);
            now.set(b0 + i, ZERO_ADDR);
          } else {
            blocks.push(i);
            now.set(b0 + i, datas.length);
            datas.push(block);
            known.push(h.hashes.subarray(k * 32, ++k * 32));
            patches.push(undefined);
          }
        }
        const body: IEvent = { diskWrite: { disk: this.disk, offset: start, length: end - start, blocks, addrs: Buffer.alloc(0), zeroBlocks } };
        bodies.push(body);
        owners.push({ body, count: blocks.length });
        continue;
      }
      // The blocks the write covers, as one buffer: the payload itself when it is
      // block-aligned (no copy), else the old edge blocks with the payload laid over.
      let full: Buffer | undefined;
      if (op.data && op.offset === start && op.length === end - start) full = op.data;
      else if (op.data || op.offset !== start || op.offset + op.length !== stop) {
        full = Buffer.allocUnsafe(end - start);
        if (op.offset !== start) base(b0, full, 0);
        if (op.offset + op.length !== stop && (b1 - 1 !== b0 || op.offset === start)) base(b1 - 1, full, end - start - bs);
        // A short last block is stored whole: zeroes past the disk's end.
        full.fill(0, stop - start);
        if (op.data) op.data.copy(full, op.offset - start);
        else full.fill(0, op.offset - start, op.offset - start + op.length);
      }
      const blocks: number[] = [];
      const zeroBlocks: number[] = [];
      for (let i = 0; i < b1 - b0; i++) {
        const block = full?.subarray(i * bs, (i + 1) * bs);
        overlay.set(b0 + i, block ?? zero);
        if (!block || block.equals(zero)) zeroBlocks.push(i);
        else blocks.push(i);
      }
      const body: IEvent = { diskWrite: { disk: this.disk, offset: start, length: stop - start, blocks, addrs: Buffer.alloc(0), zeroBlocks } };
      bodies.push(body);
      for (const i of blocks) {
        const b = b0 + i;
        // A block this write changes only in part is journaled as its patch on the block's
        // content before the write (the store may keep just the changed bytes).
        const from = Math.max(op.offset, b * bs) - b * bs;
        const to = Math.min(op.offset + op.length, b * bs + bs, this.size) - b * bs;
        const whole = from === 0 && to === Math.min(bs, this.size - b * bs);
        const base = whole ? undefined : (now.get(b) ?? oldAddr.get(b));
        patches.push(base === undefined ? undefined : { base, at: from, length: to - from });
        datas.push(full!.subarray(i * bs, (i + 1) * bs));
        known.push(undefined);
      }
      let nb = datas.length - blocks.length;
      for (let i = 0; i < b1 - b0; i++) now.set(b0 + i, blocks.includes(i) ? nb++ : ZERO_ADDR);
      owners.push({ body, count: blocks.length });
    }
    // The new blocks not hashed on arrival (those of unaligned writes) hashed in one
    // native job off the JS thread. Blobs stay in write order: a sequential write lands
    // contiguously in the pack files.
    const late = datas.filter((_, i) => !known[i]);
    const lateHashes = late.length ? await sha256BuffersAsync(late) : Buffer.alloc(0);
    let hashes: Buffer;
    if (late.length === datas.length) hashes = lateHashes;
    else {
      hashes = Buffer.allocUnsafe(datas.length * 32);
      let l = 0;
      known.forEach((h, i) => (h ?? lateHashes.subarray(l * 32, ++l * 32)).copy(hashes, i * 32));
    }
    const addrs = Array.from({ length: datas.length }, (_, i) => hashes.subarray(i * 32, (i + 1) * 32));
    // Announced now, while the previous group commits, so that this group's commit
    // need not look them up (see JournalStore.prefetchBlobs).
    if (addrs.length) await this.writer?.prefetchBlobs(addrs);
    const addrOf = (ref: Buffer | number) => (typeof ref === 'number' ? addrs[ref]! : ref);
    let k = 0;
    for (const { body, count } of owners) {
      body.diskWrite!.addrs = hashes.subarray(k * 32, (k + count) * 32);
      for (let j = 0; j < count; j++, k++) {
        const p = patches[k];
        blobs.push({ addr: addrs[k]!, data: datas[k]!, ...(p && { patch: { base: addrOf(p.base), at: p.at, length: p.length } }) });
      }
    }
    const written = new Map<number, { data: Buffer; addr: Buffer }>();
    for (const [b, data] of overlay) written.set(b, { data, addr: addrOf(now.get(b)!) });
    return { bodies, blobs, written };
  }
}
