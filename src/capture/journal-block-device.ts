import { ErrorCodes, TtjError } from '../errors.js';
import type { IEvent } from '../journal/codec.js';
import { joinAddrs } from '../journal/image-diff.js';
import type { Journal } from '../journal/journal.js';
import type { PageTable } from '../journal/page-table.js';
import type { JournalWriter } from '../journal/writer.js';
import type { BlobPut } from '../store/store.js';
import { sha256PagesAsync } from '../native/index.js';
import { zeroPage } from '../util/zero-page.js';
import type { BlockDevice } from './nbd/block-device.js';

/** Largest number of queued writes committed together (group commit). */
export const GROUP_COMMIT_MAX = 512;

interface PendingWrite {
  offset: number;
  length: number;
  /** undefined = zeroes */
  data?: Buffer;
  fua: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

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
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  private constructor(
    private readonly journal: Journal,
    private readonly disk: string,
    private readonly table: () => PageTable,
    private readonly writer: JournalWriter | undefined,
    size: number,
  ) {
    this.size = size;
    this.blockSize = journal.pageSize;
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
    return new JournalBlockDevice(writer, disk, () => writer.headState.disks.get(disk)!.table, writer, d.size);
  }

  /** The disk as given by a folded table (a past point), read-only. */
  static snapshot(journal: Journal, disk: string, table: PageTable): JournalBlockDevice {
    return new JournalBlockDevice(journal, disk, () => table, undefined, table.count * journal.pageSize);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(out, 0, offset, length);
    return out;
  }

  async readInto(target: Buffer, targetOffset: number, offset: number, length: number): Promise<void> {
    const ps = this.blockSize;
    const table = this.table();
    const b0 = Math.floor(offset / ps);
    const b1 = Math.ceil((offset + length) / ps);
    const where: number[] = [];
    const addrs: Buffer[] = [];
    for (let b = b0; b < b1; b++) {
      if (!table.isZero(b)) {
        where.push(b);
        addrs.push(Buffer.from(table.get(b)));
      }
    }
    target.fill(0, targetOffset, targetOffset + length);
    if (!addrs.length) return;
    // The zstd frame checksum guards these reads; fold and verify re-hash with SHA-256.
    await this.journal.store.readBlobs(addrs, (i, data) => {
      const start = where[i]! * ps;
      const from = Math.max(start, offset);
      const to = Math.min(start + ps, offset + length);
      data.copy(target, targetOffset + (from - offset), from - start, to - start);
    }, { verify: false });
  }

  write(offset: number, data: Buffer, opts: { fua: boolean }): Promise<void> {
    return this.enqueue(offset, data.length, data, opts.fua);
  }

  writeZeroes(offset: number, length: number, opts: { fua: boolean; mayTrim: boolean }): Promise<void> {
    return this.enqueue(offset, length, undefined, opts.fua);
  }

  /** Trimmed ranges read back as zeroes (the journal records them as zeroed blocks). */
  trim(offset: number, length: number): Promise<void> {
    return this.enqueue(offset, length, undefined, false);
  }

  async flush(): Promise<void> {
    if (!this.writer) return;
    while (this.draining) await this.draining;
    await this.writer.sync();
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

  private enqueue(offset: number, length: number, data: Buffer | undefined, fua: boolean): Promise<void> {
    if (!this.writer) return Promise.reject(new TtjError(ErrorCodes.READ_ONLY, `disk ${this.disk} is served read-only`));
    return new Promise((resolve, reject) => {
      this.queue.push({ offset, length, data, fua, resolve, reject });
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

  private async drain(): Promise<void> {
    while (this.queue.length) {
      while (this.gate) await this.gate;
      const ops = this.queue.splice(0, GROUP_COMMIT_MAX);
      try {
        const { bodies, blobs } = await this.build(ops);
        await this.writer!.commit(bodies, blobs, { sync: ops.some((o) => o.fua) });
        this.writes += ops.length;
        for (const o of ops) o.resolve();
      } catch (e) {
        for (const o of ops) o.reject(e);
      }
    }
  }

  /** Turns writes into block-aligned disk-write events (read-modify-write at the edges). */
  private async build(ops: PendingWrite[]): Promise<{ bodies: IEvent[]; blobs: BlobPut[] }> {
    const ps = this.blockSize;
    const zero = zeroPage(ps);
    const overlay = new Map<number, Buffer>(); // blocks written earlier in this group
    const bodies: IEvent[] = [];
    const blobs: BlobPut[] = [];
    const base = async (b: number): Promise<Buffer> => {
      const o = overlay.get(b);
      if (o) return Buffer.from(o);
      const buf = Buffer.alloc(ps);
      await this.readInto(buf, 0, b * ps, ps);
      return buf;
    };
    for (const op of ops) {
      const b0 = Math.floor(op.offset / ps);
      const b1 = Math.ceil((op.offset + op.length) / ps);
      const blocks: number[] = [];
      const addrs: Buffer[] = [];
      const zeroBlocks: number[] = [];
      const datas: Buffer[] = [];
      for (let b = b0; b < b1; b++) {
        const start = b * ps;
        const from = Math.max(start, op.offset);
        const to = Math.min(start + ps, op.offset + op.length);
        let block: Buffer;
        if (from === start && to === start + ps) {
          block = op.data ? op.data.subarray(from - op.offset, to - op.offset) : zero;
        } else {
          block = await base(b);
          if (op.data) op.data.copy(block, from - start, from - op.offset, to - op.offset);
          else block.fill(0, from - start, to - start);
        }
        overlay.set(b, block);
        if (block === zero || block.equals(zero)) zeroBlocks.push(b - b0);
        else {
          blocks.push(b - b0);
          datas.push(block);
        }
      }
      // The new blocks' addresses in one call (native SHA-256 on both cores when loaded).
      if (datas.length) {
        const all = Buffer.concat(datas);
        const hashes = await sha256PagesAsync(all, ps, Uint32Array.from(datas, (_, i) => i));
        datas.forEach((data, i) => {
          const addr = Buffer.from(hashes.subarray(i * 32, (i + 1) * 32));
          addrs.push(addr);
          blobs.push({ addr, data });
        });
      }
      bodies.push({ diskWrite: { disk: this.disk, offset: b0 * ps, length: (b1 - b0) * ps, blocks, addrs: joinAddrs(addrs), zeroBlocks } });
    }
    return { bodies, blobs };
  }
}
