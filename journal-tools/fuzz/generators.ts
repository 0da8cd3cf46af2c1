/**
 * Generators of valid `append --events` steps: epochs with a memory layout, pages
 * (pfns and zero pfns), disk creation with various block sizes, disk writes (blocks
 * and zero blocks, inside and outside epochs), device state chunks, PNG frames and
 * labels, each step preceded by the blob events carrying its bytes.
 */
import { createHash } from 'node:crypto';
import type { IEvent } from '../../src/journal/codec.js';
import { png } from '../../test/helpers/images.js';
import type { ModelView } from './model.js';
import type { Rng } from './prng.js';

/** One step of a case: the events of an `append --events` stream, blobs first. */
export interface Step {
  events: IEvent[];
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest();

/** Builds the events of one step; blob events are collected and put first. */
class StepBuilder {
  private blobs = new Map<string, Buffer>();
  readonly body: IEvent[] = [];
  private time: number;

  constructor(
    private readonly rng: Rng,
    view: ModelView,
    private readonly explicitTimes: boolean,
  ) {
    this.time = Math.max(view.lastTimeUs, 0);
  }

  /** Adds a blob (once) and returns its address. */
  blob(data: Buffer): Buffer {
    const a = sha(data);
    this.blobs.set(a.toString('hex'), data);
    return a;
  }

  push(e: IEvent): void {
    if (this.explicitTimes) {
      this.time += this.rng.range(0, 50_000);
      e.timeUs = this.time;
    }
    this.body.push(e);
  }

  /** Chunks `data` into blobs of `chunkSize` bytes. */
  chunks(data: Buffer, chunkSize: number): { chunkAddrs: Buffer; contentHash: Buffer } {
    const addrs: Buffer[] = [];
    for (let off = 0; off < data.length; off += chunkSize) addrs.push(this.blob(data.subarray(off, Math.min(data.length, off + chunkSize))));
    return { chunkAddrs: Buffer.concat(addrs), contentHash: sha(data) };
  }

  events(): IEvent[] {
    return [...[...this.blobs.values()].map((data) => ({ blob: { data } })), ...this.body];
  }
}

/** Content of a page or block: random, a small repeated pattern (shared by many), or all zero. */
function content(rng: Rng, size: number): Buffer {
  const k = rng.int(10);
  if (k < 6) return rng.bytes(size);
  if (k < 9) return Buffer.alloc(size, rng.pick([0x11, 0x22, 0xab, 0xcd]));
  return Buffer.alloc(size);
}

/** Distinct integers from [0, n), at most `k` of them. */
function someOf(rng: Rng, n: number, k: number): number[] {
  const s = new Set<number>();
  for (let i = 0; i < k; i++) s.add(rng.int(n));
  return [...s];
}

function diskWrite(b: StepBuilder, rng: Rng, d: { name: string; size: number; blockSize: number }): void {
  const blocks = d.size / d.blockSize;
  const first = rng.int(blocks);
  const count = rng.range(1, Math.min(4, blocks - first));
  const written = someOf(rng, count, count);
  const zero = rng.chance(0.3) ? someOf(rng, count, 2).filter((x) => !written.includes(x)) : [];
  const data = written.filter((x) => !zero.includes(x));
  b.push({
    diskWrite: {
      disk: d.name,
      offset: first * d.blockSize,
      length: count * d.blockSize,
      blocks: data,
      addrs: Buffer.concat(data.map(() => b.blob(content(rng, d.blockSize)))),
      zeroBlocks: zero,
    },
  });
}

/**
 * A valid next step for the history the view describes: some epochs and some events
 * between them. `explicitTimes`: every event carries a (non-decreasing) time.
 */
export function validStep(rng: Rng, view: ModelView, explicitTimes = rng.chance(0.6)): Step {
  const b = new StepBuilder(rng, view, explicitTimes);
  let epoch = view.nextEpoch;
  let committed = view.lastCommitted;
  let memoryPages = view.memoryPages;
  let frame = view.nextFrame;
  const disks = [...view.disks];
  // The first step of a journal has it all: an epoch with memory and device state, then a frame.
  const first = view.nextEpoch === 0 && view.disks.length === 0;
  const units = first ? 2 : rng.range(1, 3);
  for (let u = 0; u < units; u++) {
    const what = first ? (u === 0 ? 0 : 17) : rng.int(20);
    if (what < 9 || committed < 0) {
      // An epoch.
      b.push({ epochBegin: { epoch } });
      if (!memoryPages && (first || rng.chance(0.8))) {
        memoryPages = rng.range(4, 48);
        b.push({ memoryLayout: { size: memoryPages * view.pageSize } });
      }
      if (memoryPages && (first || rng.chance(0.85))) {
        const pfns = someOf(rng, memoryPages, rng.range(1, 8));
        const zeroPfns = rng.chance(0.4) ? someOf(rng, memoryPages, 3) : [];
        b.push({ pages: { pfns, addrs: Buffer.concat(pfns.map(() => b.blob(content(rng, view.pageSize)))), zeroPfns } });
      }
      if (disks.length && rng.chance(0.4)) diskWrite(b, rng, rng.pick(disks));
      if (first || rng.chance(0.35)) {
        const data = rng.bytes(rng.int(3) === 0 ? 0 : rng.range(1, 12000));
        const chunkSize = rng.pick([4096, 1000, 65536]);
        b.push({ device: { length: data.length, chunkSize, ...b.chunks(data, chunkSize) } });
      }
      if (rng.chance(0.2)) b.push({ label: { text: rng.pick(['boot', 'before upgrade', 'x', 'ünïcode', `e${epoch}`]) } });
      b.push({ epochCommit: { epoch } });
      committed = epoch++;
    } else if (what < 11 || !disks.length) {
      const bs = rng.pick([view.pageSize, view.pageSize * 2, 16384, 65536].filter((x) => x >= view.pageSize && x <= 65536));
      const name = `d${disks.length}${rng.pick(['', '.img', '_x', '-0'])}`;
      const d = { name, size: bs * rng.range(1, Math.max(1, Math.floor(262144 / bs))), blockSize: bs };
      b.push({ diskCreate: { name, size: d.size, blockSize: bs === view.pageSize && rng.chance(0.5) ? 0 : bs } });
      disks.push(d);
    } else if (what < 14) {
      diskWrite(b, rng, rng.pick(disks));
    } else if (what < 18) {
      const img = png(rng.range(1, 40), rng.range(1, 30), rng.int(1000));
      const chunkSize = rng.pick([256 * 1024, 64, 100]);
      const { width, height } = { width: img.readUInt32BE(16), height: img.readUInt32BE(20) };
      b.push({ frame: { frame: frame++, format: 'png', width, height, length: img.length, chunkSize, ...b.chunks(img, chunkSize) } });
    } else {
      b.push(rng.chance(0.7) ? { label: { text: rng.pick(['boot', 'x', `after ${committed}`]) } } : { vmConfig: { machine: 'pc', memorySize: memoryPages * view.pageSize, json: '{"fuzz":true}' } });
    }
  }
  return { events: b.events() };
}
