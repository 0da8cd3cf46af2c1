/**
 * The fuzzer's reference model: an independent reading of docs/format.md and
 * docs/cli.md (`append --events`). It decides whether a decoded event stream is valid
 * against the history accepted so far, and computes the VM state at any point as
 * plain Buffers (memory bytes, disk bytes, device bytes, frame bytes). It shares no
 * code with the journal beyond the protobuf types.
 */
import { createHash } from 'node:crypto';
import type { IEvent } from '../../src/journal/codec.js';

/** A time further ahead of the clock than this is refused (issue 13 item 4). */
export const FAR_FUTURE_US = 24 * 3600 * 1_000_000;
/** Largest disk block size (docs/format.md). */
const MAX_BLOCK = 1 << 20;

/**
 * Why the model refuses a stream. `rule` names the broken rule when it is one a
 * mutator aims at (the mutator's kind), else `invalid`: a violation is attributed
 * to the rule, whichever mutation broke it.
 */
export class ModelRefusal extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

const refuse = (why: string, rule = 'invalid'): never => {
  throw new ModelRefusal(rule, why);
};

/** An unsigned or signed protobuf integer (number or Long) as a bigint. */
export function big(v: unknown): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'bigint') return v;
  return BigInt(String(v));
}

const hashOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesOf = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b) : Buffer.alloc(0));
const addrsOf = (b: Uint8Array | null | undefined): string[] | undefined => {
  const d = bytesOf(b);
  if (d.length % 32) return undefined;
  const out: string[] = [];
  for (let i = 0; i < d.length; i += 32) out.push(d.subarray(i, i + 32).toString('hex'));
  return out;
};
const ZERO_HEX = '0'.repeat(64);

/** The body fields of an Event, in schema order. */
export const BODY_KINDS = ['header', 'epochBegin', 'memoryLayout', 'diskCreate', 'pages', 'diskWrite', 'device', 'epochCommit', 'frame', 'label', 'fork', 'vmConfig', 'blob'] as const;
export type BodyName = (typeof BODY_KINDS)[number];

/** The bodies an event carries (a valid one carries exactly one). */
export function bodiesOf(e: IEvent): BodyName[] {
  return BODY_KINDS.filter((k) => e[k] !== undefined && e[k] !== null);
}

interface Disk {
  size: number;
  blockSize: number;
  bytes: Buffer;
}

/** A memory, device or label change waiting for its epoch's commit. */
type Pending = { kind: 'layout'; size: number } | { kind: 'page'; pfn: number; data: Buffer | undefined } | { kind: 'device'; data: Buffer };

/** A point of the history and the seq whose state it folds to. */
export interface PointRef {
  point: string;
  seq: number;
  /** The epoch whose memory and device it folds (-1: none). */
  epoch: number;
  frame?: number;
}

/** The state the model folds to at a point. */
export interface ModelPoint {
  point: string;
  /** Undefined: folding this point must fail (nothing committed and no disk). */
  files?: Map<string, Buffer>;
  epoch: number;
  frame?: number;
}

/** The mutable VM state of the model (cloned per step, so a refused step leaves it alone). */
class VmModel {
  memory: Buffer | undefined;
  disks = new Map<string, Disk>();
  device: Buffer | undefined;

  clone(): VmModel {
    const m = new VmModel();
    m.memory = this.memory && Buffer.from(this.memory);
    for (const [k, d] of this.disks) m.disks.set(k, { ...d, bytes: Buffer.from(d.bytes) });
    m.device = this.device;
    return m;
  }

  /** What fold writes: memory.raw, disks/NAME.raw, device.bin. */
  files(): Map<string, Buffer> {
    const f = new Map<string, Buffer>();
    if (this.memory) f.set('memory.raw', Buffer.from(this.memory));
    for (const [k, d] of this.disks) f.set(`disks/${k}.raw`, Buffer.from(d.bytes));
    if (this.device) f.set('device.bin', this.device);
    return f;
  }
}

/** What the generators need to know to write a valid next step. */
export interface ModelView {
  pageSize: number;
  memoryPages: number;
  disks: { name: string; size: number; blockSize: number }[];
  nextEpoch: number;
  nextFrame: number;
  lastCommitted: number;
  lastTimeUs: number;
  /** Blobs the journal holds (from accepted steps), by hex address. */
  blobs: ReadonlyMap<string, Buffer>;
  labels: string[];
}

/**
 * The accepted history and everything derived from it. {@link tryStep} validates a
 * stream and returns the model after it; the model itself never changes.
 */
export class ReferenceModel {
  private constructor(
    readonly pageSize: number,
    /** Accepted event bodies; index i is seq i + 1 (seq 0 is the header). */
    readonly bodies: readonly IEvent[],
    /** The time of each accepted body: given in the stream, or as the journal stamped it (undefined until read back). */
    readonly times: readonly (number | undefined)[],
    readonly blobs: ReadonlyMap<string, Buffer>,
    readonly lastTimeUs: number,
    private readonly head: VmModel,
    private readonly counters: { nextEpoch: number; nextFrame: number; lastCommitted: number; memoryPages: number; labels: string[] },
  ) {}

  static empty(pageSize: number, headerTimeUs: number): ReferenceModel {
    return new ReferenceModel(pageSize, [], [], new Map(), headerTimeUs, new VmModel(), { nextEpoch: 0, nextFrame: 0, lastCommitted: -1, memoryPages: 0, labels: [] });
  }

  get headSeq(): number {
    return this.bodies.length;
  }

  view(): ModelView {
    return {
      pageSize: this.pageSize,
      memoryPages: this.counters.memoryPages,
      disks: [...this.head.disks].map(([name, d]) => ({ name, size: d.size, blockSize: d.blockSize })),
      nextEpoch: this.counters.nextEpoch,
      nextFrame: this.counters.nextFrame,
      lastCommitted: this.counters.lastCommitted,
      lastTimeUs: this.lastTimeUs,
      blobs: this.blobs,
      labels: this.counters.labels,
    };
  }

  /** Seqs whose time the journal chose (events given time 0) and the model does not know yet. */
  unknownTimes(): number[] {
    return this.times.flatMap((t, i) => (t === undefined ? [i + 1] : []));
  }

  /** The same model with the times the journal stamped on events given time 0 (`stamped`: seq → µs). */
  withTimes(stamped: ReadonlyMap<number, number>): ReferenceModel {
    const times = this.times.map((t, i) => t ?? stamped.get(i + 1));
    const last = times.length ? (times[times.length - 1] ?? this.lastTimeUs) : this.lastTimeUs;
    return new ReferenceModel(this.pageSize, this.bodies, times, this.blobs, last, this.head, this.counters);
  }

  /**
   * Validates a decoded `append --events` stream against the history and returns the
   * model after it.
   * @throws ModelRefusal saying why the stream must be refused.
   */
  tryStep(stream: IEvent[], nowUs = Date.now() * 1000): ReferenceModel {
    const given = new Map<string, Buffer>();
    const bodies: IEvent[] = [];
    for (const e of stream) {
      const kinds = bodiesOf(e);
      if (kinds.length === 1 && kinds[0] === 'blob') {
        const d = bytesOf(e.blob!.data);
        given.set(hashOf(d), d);
      } else bodies.push(e);
    }
    if (!bodies.length) refuse('no events to append');
    const blobOf = (addr: string): Buffer | undefined => given.get(addr) ?? this.blobs.get(addr);
    const sim = new Simulator(this.pageSize, this.head.clone(), { ...this.counters, labels: [...this.counters.labels] }, this.lastTimeUs, nowUs, blobOf);
    let seq = this.headSeq;
    for (const b of bodies) sim.feed(b, ++seq, true);
    if (sim.open) refuse(`epoch ${sim.open.epoch} is not committed at the end of the stream`);
    const blobs = new Map(this.blobs);
    for (const [k, v] of given) blobs.set(k, v);
    const times = bodies.map((b) => (big(b.timeUs) !== 0n ? Number(big(b.timeUs)) : undefined));
    return new ReferenceModel(this.pageSize, [...this.bodies, ...bodies], [...this.times, ...times], blobs, sim.lastTimeUs, sim.vm, sim.counters);
  }

  /**
   * The points of the history: head, every seq, epoch, frame and label, with the seq
   * whose state each one folds to (no bytes yet: see {@link points}).
   */
  pointRefs(): PointRef[] {
    const commits: number[] = [];
    const frames: number[] = [];
    const labels = new Map<string, number>();
    const sim = this.replayer();
    sim.onCommit = () => commits.push(sim.seq);
    sim.onFrame = (epoch) => frames.push(epoch);
    sim.onLabel = (text, epoch) => labels.set(text, Math.max(epoch, labels.get(text) ?? -1));
    const epochAt: number[] = [-1];
    this.bodies.forEach((b, i) => {
      sim.feed(b, i + 1, false);
      epochAt.push(sim.counters.lastCommitted);
    });
    const refs: PointRef[] = [{ point: 'head', seq: this.headSeq, epoch: epochAt[this.headSeq]! }];
    epochAt.forEach((epoch, seq) => refs.push({ point: `seq:${seq}`, seq, epoch }));
    commits.forEach((seq, n) => refs.push({ point: `epoch:${n}`, seq, epoch: n }));
    frames.forEach((epoch, n) => refs.push({ point: `frame:${n}`, seq: commits[epoch]!, epoch, frame: n }));
    for (const [text, epoch] of labels) refs.push({ point: `label:${text}`, seq: commits[epoch]!, epoch });
    // time:ISO (to the millisecond) of each commit: the last epoch committed by the end of that millisecond.
    const commitTimes = commits.map((seq) => this.times[seq - 1]);
    if (commitTimes.every((t) => t !== undefined && t < 8.64e18)) {
      const points = new Set<string>();
      for (const t of commitTimes as number[]) {
        const ms = Math.floor(t / 1000);
        const point = `time:${new Date(ms).toISOString()}`;
        if (points.has(point)) continue;
        points.add(point);
        let epoch = -1;
        commitTimes.forEach((c, n) => (c! <= ms * 1000 + 999 ? (epoch = n) : undefined));
        refs.push({ point, seq: commits[epoch]!, epoch });
      }
    }
    return refs;
  }

  /** What each of `refs` must fold to: the files of fold's output (manifest.json aside). */
  points(refs: PointRef[]): ModelPoint[] {
    const want = new Set(refs.map((r) => r.seq));
    const atSeq = new Map<number, Map<string, Buffer> | undefined>();
    const frames: Buffer[] = [];
    const sim = this.replayer();
    sim.onFrame = (epoch, data) => frames.push(data);
    const snap = (seq: number) => {
      if (!want.has(seq)) return;
      // Memory and device change at commits only: the model's are those of the last commit; disks as of now.
      const nothing = sim.counters.lastCommitted < 0 && sim.vm.disks.size === 0;
      atSeq.set(seq, nothing ? undefined : sim.vm.files());
    };
    snap(0);
    this.bodies.forEach((b, i) => {
      sim.feed(b, i + 1, false);
      snap(i + 1);
    });
    return refs.map((r) => {
      let files = atSeq.get(r.seq);
      if (files && r.frame !== undefined) {
        files = new Map(files);
        files.set('frame.png', frames[r.frame]!);
      }
      return { point: r.point, epoch: r.epoch, frame: r.frame, files };
    });
  }

  /** A simulator that replays the accepted history (no checks). */
  private replayer(): Simulator {
    return new Simulator(this.pageSize, new VmModel(), { nextEpoch: 0, nextFrame: 0, lastCommitted: -1, memoryPages: 0, labels: [] }, 0, Infinity, (a) => this.blobs.get(a));
  }
}

/** Feeds event bodies to a {@link VmModel}, checking every rule when `check` is set. */
class Simulator {
  open: { epoch: number; pending: Pending[] } | undefined;
  seq = 0;
  onCommit?: (epoch: number) => void;
  onFrame?: (epoch: number, data: Buffer) => void;
  onLabel?: (text: string, epoch: number) => void;
  /** Memory pages once a layout is known (pending in the open epoch or committed). */
  private layoutPages: number;

  constructor(
    readonly pageSize: number,
    readonly vm: VmModel,
    readonly counters: { nextEpoch: number; nextFrame: number; lastCommitted: number; memoryPages: number; labels: string[] },
    public lastTimeUs: number,
    private readonly nowUs: number,
    private readonly blobOf: (addr: string) => Buffer | undefined,
  ) {
    this.layoutPages = counters.memoryPages;
  }

  /** A blob named as a page or block: given or stored, exactly `size` bytes. */
  private blob(addr: string, size: number, what: string): Buffer {
    if (addr === ZERO_HEX) refuse(`${what} has the zero address`);
    const b = this.blobOf(addr) ?? refuse(`${what}: blob ${addr} is neither given nor stored`);
    if (b.length !== size) refuse(`${what}: blob ${addr} is ${b.length} bytes, not ${size}`, 'blob-wrong-size');
    return b;
  }

  /** Chunked content (device state, frames): every chunk present, the whole hashing to `contentHash`. */
  private chunked(chunkAddrs: Uint8Array | null | undefined, contentHash: Uint8Array | null | undefined, length: bigint, what: string, kind: 'device' | 'frame'): Buffer {
    const addrs = addrsOf(chunkAddrs) ?? refuse(`${what}: chunk addresses are not 32 bytes each`);
    const parts = addrs.map((a) => this.blobOf(a) ?? refuse(`${what}: chunk ${a} is neither given nor stored`));
    const data = Buffer.concat(parts);
    if (BigInt(data.length) !== length) refuse(`${what}: its chunks hold ${data.length} bytes, not ${length}`, 'length-field');
    if (hashOf(data) !== bytesOf(contentHash).toString('hex')) refuse(`${what}: its chunks do not hash to its content hash`, `${kind}-hash`);
    return data;
  }

  feed(e: IEvent, seq: number, check: boolean): void {
    this.seq = seq;
    const kinds = bodiesOf(e);
    if (check) {
      if (kinds.length !== 1) refuse(`event ${seq} has ${kinds.length} bodies`);
      const t = big(e.timeUs);
      if (t !== 0n) {
        if (t < BigInt(Math.trunc(this.lastTimeUs))) refuse(`event ${seq}: time goes backwards`);
        if (t > BigInt(Math.trunc(this.nowUs + FAR_FUTURE_US))) refuse(`event ${seq}: time far in the future`, 'time-far-future');
        this.lastTimeUs = Number(t);
      } else this.lastTimeUs = Math.max(this.lastTimeUs, this.nowUs);
    }
    const kind = kinds[0]!;
    const c = this.counters;
    switch (kind) {
      case 'header':
      case 'blob':
        return refuse(`event ${seq}: a ${kind} cannot be appended`);
      case 'fork':
        if (check && seq !== 1) refuse('a fork event must be seq 1');
        return;
      case 'vmConfig':
        return;
      case 'epochBegin': {
        if (this.open) refuse(`event ${seq}: epoch ${this.open.epoch} is still open`);
        if (big(e.epochBegin!.epoch) !== BigInt(c.nextEpoch)) refuse(`event ${seq}: epoch ${big(e.epochBegin!.epoch)}, expected ${c.nextEpoch}`);
        this.open = { epoch: c.nextEpoch, pending: [] };
        return;
      }
      case 'memoryLayout': {
        const open = this.open ?? refuse(`event ${seq}: memory layout outside an epoch`);
        const size = big(e.memoryLayout!.size);
        if (size <= 0n || size % BigInt(this.pageSize) || size > 1n << 30n) refuse(`memory size ${size}`);
        const pages = Number(size) / this.pageSize;
        if (this.layoutPages && pages !== this.layoutPages) refuse(`memory size changes`);
        this.layoutPages = pages;
        open.pending.push({ kind: 'layout', size: Number(size) });
        return;
      }
      case 'pages': {
        const open = this.open ?? refuse(`event ${seq}: pages outside an epoch`);
        if (!this.layoutPages) refuse('pages before the memory layout');
        const p = e.pages!;
        const pfns = p.pfns ?? [];
        const addrs = addrsOf(p.addrs);
        if (!addrs || addrs.length !== pfns.length) refuse('page addresses do not match the pfns');
        pfns.forEach((pfn, i) => {
          if (pfn >= this.layoutPages) refuse(`pfn ${pfn} beyond the memory`);
          open.pending.push({ kind: 'page', pfn, data: this.blob(addrs![i]!, this.pageSize, `pfn ${pfn}`) });
        });
        for (const pfn of p.zeroPfns ?? []) {
          if (pfn >= this.layoutPages) refuse(`zero pfn ${pfn} beyond the memory`);
          open.pending.push({ kind: 'page', pfn, data: undefined });
        }
        return;
      }
      case 'device': {
        const open = this.open ?? refuse(`event ${seq}: device state outside an epoch`);
        const d = e.device!;
        if (!d.chunkSize) refuse('device chunk size 0');
        open.pending.push({ kind: 'device', data: this.chunked(d.chunkAddrs, d.contentHash, big(d.length), 'device state', 'device') });
        return;
      }
      case 'diskCreate': {
        const d = e.diskCreate!;
        const name = d.name ?? '';
        const bs = d.blockSize || this.pageSize;
        const size = big(d.size);
        if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) refuse(`disk name ${JSON.stringify(name)}`);
        if (this.vm.disks.has(name)) refuse(`disk ${name} exists`);
        if (bs < this.pageSize || bs > MAX_BLOCK || bs & (bs - 1)) refuse(`block size ${bs}`);
        if (size <= 0n || size % BigInt(bs) || size > 1n << 30n) refuse(`disk size ${size}`);
        this.vm.disks.set(name, { size: Number(size), blockSize: bs, bytes: Buffer.alloc(Number(size)) });
        return;
      }
      case 'diskWrite': {
        const w = e.diskWrite!;
        const d = this.vm.disks.get(w.disk ?? '') ?? refuse(`write to unknown disk ${w.disk}`);
        const off = big(w.offset);
        const len = big(w.length);
        const bs = BigInt(d.blockSize);
        if (off % bs || len % bs || off + len > BigInt(d.size)) refuse(`disk write ${off}+${len}`);
        const count = Number(len / bs);
        const first = Number(off);
        const addrs = addrsOf(w.addrs);
        const blocks = w.blocks ?? [];
        if (!addrs || addrs.length !== blocks.length) refuse('block addresses do not match the blocks');
        const writes: [number, Buffer | undefined][] = [];
        blocks.forEach((b, i) => {
          if (b >= count) refuse(`block ${b} outside its write`);
          writes.push([b, this.blob(addrs![i]!, d.blockSize, `block ${b}`)]);
        });
        for (const b of w.zeroBlocks ?? []) {
          if (b >= count) refuse(`zero block ${b} outside its write`);
          writes.push([b, undefined]);
        }
        for (const [b, data] of writes) {
          const at = first + b * d.blockSize;
          if (data) data.copy(d.bytes, at);
          else d.bytes.fill(0, at, at + d.blockSize);
        }
        return;
      }
      case 'epochCommit': {
        const open = this.open ?? refuse(`event ${seq}: commit without an open epoch`);
        const ec = e.epochCommit!;
        if (big(ec.epoch) !== BigInt(open.epoch)) refuse(`commit of epoch ${big(ec.epoch)}, ${open.epoch} is open`);
        if (check && bytesOf(ec.stateRoot).length) refuse('a state root is given (the model cannot compute one)');
        for (const p of open.pending) {
          if (p.kind === 'layout') {
            this.vm.memory ??= Buffer.alloc(p.size);
            c.memoryPages = p.size / this.pageSize;
          } else if (p.kind === 'page') {
            const at = p.pfn * this.pageSize;
            if (p.data) p.data.copy(this.vm.memory!, at);
            else this.vm.memory!.fill(0, at, at + this.pageSize);
          } else this.vm.device = p.data;
        }
        this.open = undefined;
        c.lastCommitted = c.nextEpoch;
        c.nextEpoch++;
        this.onCommit?.(c.lastCommitted);
        return;
      }
      case 'frame': {
        if (this.open) refuse('a frame inside an epoch');
        if (c.lastCommitted < 0) refuse('a frame before any commit');
        const f = e.frame!;
        if (big(f.frame) !== BigInt(c.nextFrame)) refuse(`frame ${big(f.frame)}, expected ${c.nextFrame}`);
        const data = this.chunked(f.chunkAddrs, f.contentHash, big(f.length), `frame ${c.nextFrame}`, 'frame');
        c.nextFrame++;
        this.onFrame?.(c.lastCommitted, data);
        return;
      }
      case 'label': {
        const text = e.label!.text ?? '';
        if (!text) refuse('empty label');
        const epoch = this.open ? this.open.epoch : c.lastCommitted;
        if (epoch < 0) refuse('no epoch to label');
        if (!c.labels.includes(text)) c.labels.push(text);
        this.onLabel?.(text, epoch);
        return;
      }
    }
  }
}
