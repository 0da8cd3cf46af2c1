import { ErrorCodes, TtjError } from '../errors.js';
import { ADDR_LEN, sha256, ZERO_ADDR } from '../util/hash.js';
import { buf, type Event } from './codec.js';
import type { ttj } from '../gen/events.js';
import { DISK_SECTOR, diskBlockCount, isDiskSize } from './disk-geometry.js';
import { PageTable } from './page-table.js';
import type { BlobPut } from '../store/store.js';
import { isPowerOfTwo } from '../util/power-of-two.js';

/** The device state as the journal knows it: chunk addresses plus a whole-content hash. */
export interface DeviceRef {
  length: number;
  chunkSize: number;
  chunkAddrs: Buffer;
  contentHash: Buffer;
}

/** A disk: its fixed size, its block size and its block table. */
export interface DiskState {
  /** Bytes: a whole number of 512-byte sectors; the last block is short when it is not a whole number of blocks. */
  size: number;
  /** Bytes per block (a power of two, at least the page size). */
  blockSize: number;
  table: PageTable;
}

/** Largest disk block size (1 MiB). */
export const MAX_DISK_BLOCK_SIZE = 1024 * 1024;

/**
 * The VM state at one point of the stream, as content addresses only (no page
 * bytes): the memory page table, each disk's block table, and the device state.
 * Applying events moves it forward; `root()` is the state root an epoch commits.
 */
export class VmState {
  memorySize = 0;
  memory: PageTable | undefined;
  readonly disks = new Map<string, DiskState>();
  device: DeviceRef | undefined;

  constructor(readonly pageSize: number) {}

  /**
   * Applies one state-changing event. `seq` is for error messages.
   * @throws TtjError CORRUPT_EVENT when the event does not fit the state.
   */
  apply(ev: Event, seq: number): void {
    const bad = (what: string) => new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq}: ${what}`, { seq });
    switch (ev.body) {
      case 'memoryLayout': {
        const size = Number((ev.memoryLayout as ttj.v1.MemoryLayout).size);
        if (this.memory && size !== this.memorySize) throw bad(`memory size changes from ${this.memorySize} to ${size}`);
        if (size <= 0 || size % this.pageSize) throw bad(`memory size ${size} is not a positive multiple of the page size ${this.pageSize}`);
        if (!this.memory) {
          this.memorySize = size;
          this.memory = new PageTable(size / this.pageSize);
        }
        return;
      }
      case 'diskCreate': {
        const { name, size, blockSize } = ev.diskCreate as ttj.v1.DiskCreate;
        const n = Number(size);
        const bs = blockSize || this.pageSize;
        if (!name || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw bad(`bad disk name ${JSON.stringify(name)}`);
        if (this.disks.has(name)) throw bad(`disk ${name} already exists`);
        if (!isPowerOfTwo(bs) || bs < this.pageSize || bs > MAX_DISK_BLOCK_SIZE) throw bad(`disk block size ${bs} is not a power of two from the page size to 1 MiB`);
        if (!isDiskSize(n)) throw bad(`disk size ${n} is not a positive multiple of ${DISK_SECTOR} bytes`);
        this.disks.set(name, { size: n, blockSize: bs, table: new PageTable(diskBlockCount(n, bs)) });
        return;
      }
      case 'pages': {
        const p = ev.pages as ttj.v1.PageBatch;
        if (!this.memory) throw bad('pages before the memory layout');
        const addrs = buf(p.addrs);
        if (addrs.length !== p.pfns.length * ADDR_LEN) throw bad('page batch addresses do not match its pfns');
        for (let i = 0; i < p.pfns.length; i++) {
          const pfn = p.pfns[i]!;
          if (pfn >= this.memory.count) throw bad(`pfn ${pfn} is beyond the memory`);
          const a = addrs.subarray(i * ADDR_LEN, (i + 1) * ADDR_LEN);
          if (a.equals(ZERO_ADDR)) throw bad(`pfn ${pfn} has the zero address; use zero_pfns`);
          this.memory.set(pfn, a);
        }
        for (const pfn of p.zeroPfns) {
          if (pfn >= this.memory.count) throw bad(`pfn ${pfn} is beyond the memory`);
          this.memory.setZero(pfn);
        }
        return;
      }
      case 'diskWrite': {
        const w = ev.diskWrite as ttj.v1.DiskWrite;
        const d = this.disks.get(w.disk);
        if (!d) throw bad(`write to unknown disk ${w.disk}`);
        const off = Number(w.offset);
        const len = Number(w.length);
        const bs = d.blockSize;
        // Whole blocks, or blocks up to the disk's end (its last block may be short).
        if (off % bs || (len % bs && off + len !== d.size) || off + len > d.size) throw bad(`disk write ${off}+${len} is misaligned or beyond disk ${w.disk}`);
        const first = off / bs;
        const count = Math.ceil(len / bs);
        const addrs = buf(w.addrs);
        if (addrs.length !== w.blocks.length * ADDR_LEN) throw bad('disk write addresses do not match its blocks');
        for (let i = 0; i < w.blocks.length; i++) {
          const b = w.blocks[i]!;
          if (b >= count) throw bad(`block ${b} is outside its write`);
          const a = addrs.subarray(i * ADDR_LEN, (i + 1) * ADDR_LEN);
          if (a.equals(ZERO_ADDR)) throw bad(`block ${b} has the zero address; use zero_blocks`);
          d.table.set(first + b, a);
        }
        for (const b of w.zeroBlocks) {
          if (b >= count) throw bad(`block ${b} is outside its write`);
          d.table.setZero(first + b);
        }
        return;
      }
      case 'device': {
        const d = ev.device as ttj.v1.DeviceState;
        const chunkAddrs = buf(d.chunkAddrs);
        const length = Number(d.length);
        const cs = d.chunkSize;
        if (cs <= 0 || chunkAddrs.length !== Math.ceil(length / cs) * ADDR_LEN || buf(d.contentHash).length !== ADDR_LEN) throw bad('malformed device state');
        this.device = { length, chunkSize: cs, chunkAddrs: Buffer.from(chunkAddrs), contentHash: Buffer.from(buf(d.contentHash)) };
        return;
      }
      default:
        return;
    }
  }

  /** The state root: see docs/format.md. */
  root(): Buffer {
    const parts: Buffer[] = [Buffer.from('ttj-state-v1\0')];
    const n = Buffer.alloc(12);
    n.writeUInt32LE(this.pageSize, 0);
    n.writeUIntLE(this.memorySize, 4, 6);
    parts.push(n, this.memory ? this.memory.root() : ZERO_ADDR);
    for (const name of [...this.disks.keys()].sort()) {
      const d = this.disks.get(name)!;
      const h = Buffer.alloc(8);
      h.writeUIntLE(d.size, 0, 6);
      // log2 of a block size other than the page size (0 keeps earlier roots unchanged).
      if (d.blockSize !== this.pageSize) h.writeUInt16LE(Math.log2(d.blockSize), 6);
      parts.push(Buffer.from(name + '\0'), h, d.table.root());
    }
    parts.push(Buffer.from('device\0'), this.device ? this.device.contentHash : ZERO_ADDR);
    return sha256(...parts);
  }

  /**
   * Starts a transaction: {@link rollback} undoes every `apply` since, so a batch
   * that fails half-way leaves the state as it was.
   */
  begin(): { rollback(): void; commit(): void } {
    const memorySize = this.memorySize;
    const memory = this.memory;
    const device = this.device;
    const disks = new Map(this.disks);
    memory?.startUndo();
    for (const d of disks.values()) d.table.startUndo();
    return {
      rollback: () => {
        memory?.rollback();
        for (const d of disks.values()) d.table.rollback();
        this.memorySize = memorySize;
        this.memory = memory;
        this.device = device;
        this.disks.clear();
        for (const [k, d] of disks) this.disks.set(k, d);
      },
      commit: () => {
        memory?.dropUndo();
        for (const d of disks.values()) d.table.dropUndo();
      },
    };
  }

  clone(): VmState {
    const s = new VmState(this.pageSize);
    s.memorySize = this.memorySize;
    s.memory = this.memory?.clone();
    for (const [k, d] of this.disks) s.disks.set(k, { size: d.size, blockSize: d.blockSize, table: d.table.clone() });
    s.device = this.device;
    return s;
  }

  /** Total entries of all tables (for keyframe spacing). */
  entryCount(): number {
    let n = this.memory?.count ?? 0;
    for (const d of this.disks.values()) n += d.table.count;
    return n;
  }

  /**
   * The keyframe of this state: the tables' Merkle leaf chunks as blobs, and one
   * JSON blob naming them. Returns the address of the JSON blob and all blobs.
   */
  toKeyframe(): { addr: Buffer; blobs: BlobPut[] } {
    const blobs: BlobPut[] = [];
    const table = (t: PageTable) => {
      const chunks: string[] = [];
      for (let c = 0; c < t.chunkCount; c++) {
        const addr = Buffer.from(t.chunkHash(c));
        blobs.push({ addr, data: Buffer.from(t.chunk(c)) });
        chunks.push(addr.toString('hex'));
      }
      return chunks;
    };
    const kf: KeyframeJson = {
      version: 1,
      pageSize: this.pageSize,
      memory: this.memory ? { size: this.memorySize, chunks: table(this.memory) } : undefined,
      disks: Object.fromEntries([...this.disks].map(([k, d]) => [k, { size: d.size, blockSize: d.blockSize, chunks: table(d.table) }])),
      device: this.device ? { length: this.device.length, chunkSize: this.device.chunkSize, chunkAddrs: this.device.chunkAddrs.toString('hex'), contentHash: this.device.contentHash.toString('hex') } : undefined,
    };
    const data = Buffer.from(JSON.stringify(kf));
    const addr = sha256(data);
    blobs.push({ addr, data });
    return { addr, blobs };
  }

  /** Loads a keyframe written by {@link toKeyframe}. */
  static async fromKeyframe(getBlobs: (addrs: Buffer[]) => Promise<Buffer[]>, addr: Buffer): Promise<VmState> {
    const [data] = await getBlobs([addr]);
    let kf: KeyframeJson;
    try {
      kf = JSON.parse(data!.toString('utf8')) as KeyframeJson;
    } catch (e) {
      throw new TtjError(ErrorCodes.CORRUPT_BLOB, `keyframe ${addr.toString('hex')} does not parse`, { addr: addr.toString('hex') }, { cause: e });
    }
    const s = new VmState(kf.pageSize);
    const load = async (count: number, chunks: string[]) => PageTable.fromChunks(count, await getBlobs(chunks.map((c) => Buffer.from(c, 'hex'))));
    if (kf.memory) {
      s.memorySize = kf.memory.size;
      s.memory = await load(kf.memory.size / kf.pageSize, kf.memory.chunks);
    }
    for (const [name, d] of Object.entries(kf.disks)) {
      const blockSize = d.blockSize ?? kf.pageSize;
      s.disks.set(name, { size: d.size, blockSize, table: await load(diskBlockCount(d.size, blockSize), d.chunks) });
    }
    if (kf.device) {
      s.device = {
        length: kf.device.length,
        chunkSize: kf.device.chunkSize,
        chunkAddrs: Buffer.from(kf.device.chunkAddrs, 'hex'),
        contentHash: Buffer.from(kf.device.contentHash, 'hex'),
      };
    }
    return s;
  }
}

interface KeyframeJson {
  version: 1;
  pageSize: number;
  memory?: { size: number; chunks: string[] };
  /** blockSize absent = the page size (keyframes written before block sizes existed). */
  disks: Record<string, { size: number; blockSize?: number; chunks: string[] }>;
  device?: { length: number; chunkSize: number; chunkAddrs: string; contentHash: string };
}
