/**
 * Mutators of valid event streams: each takes a valid step and returns the bytes of
 * an `append --events` stream that is (usually) no longer valid. Some work on the
 * decoded events (wrong sizes, wrong counts, out-of-range numbers, reordering), some
 * on the encoded bytes (bit flips, truncations, lengths).
 */
import { createHash } from 'node:crypto';
import { encodeEventStream } from '../../src/journal/append-events.js';
import type { IEvent } from '../../src/journal/codec.js';
import { bodiesOf, type ModelView } from './model.js';
import type { Rng } from './prng.js';

/** A mutator of streams. `apply` returns undefined when the step has nothing it can mutate. */
export interface StreamMutator {
  kind: string;
  apply(rng: Rng, events: IEvent[], view: ModelView): Buffer | undefined;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest();
const clone = (events: IEvent[]): IEvent[] => events.map((e) => structuredClone(e));
const isBlob = (e: IEvent) => bodiesOf(e).includes('blob');
const withBody = (events: IEvent[], kind: string) => events.map((e, i) => [e, i] as const).filter(([e]) => bodiesOf(e).includes(kind as never));

/** Mutates the decoded events (a deep copy); `f` returns false when it found nothing to change. */
const onEvents =
  (f: (rng: Rng, ev: IEvent[], view: ModelView) => boolean | void) =>
  (rng: Rng, events: IEvent[], view: ModelView): Buffer | undefined => {
    const ev = clone(events);
    return f(rng, ev, view) === false ? undefined : encodeEventStream(ev);
  };

/** Replaces the blob behind one page or block address with `data` (a new blob event, the address changed). */
function renameBlob(rng: Rng, ev: IEvent[], sizeOf: (pageOrBlock: number) => Buffer): boolean {
  const targets = [...withBody(ev, 'pages'), ...withBody(ev, 'diskWrite')].filter(([e]) => (e.pages?.pfns?.length ?? 0) + (e.diskWrite?.blocks?.length ?? 0) > 0);
  if (!targets.length) return false;
  const [e, i] = rng.pick(targets);
  const list = e.pages ?? e.diskWrite!;
  const addrs = Buffer.from(list.addrs!);
  const n = addrs.length / 32;
  const k = rng.int(n);
  const data = sizeOf(e.pages ? 0 : 1);
  sha(data).copy(addrs, k * 32);
  list.addrs = addrs;
  ev.splice(i, 0, { blob: { data } });
  return true;
}

export const STREAM_MUTATORS: StreamMutator[] = [
  {
    kind: 'bit-flip',
    apply: (rng, events) => {
      const b = encodeEventStream(events);
      for (let k = rng.range(1, 3); k > 0; k--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    },
  },
  {
    kind: 'truncate',
    apply: (rng, events) => {
      const b = encodeEventStream(events);
      return b.subarray(0, rng.int(b.length));
    },
  },
  {
    kind: 'length-prefix',
    apply: (rng, events) => {
      // The varint length of one event made wrong (too long, too short, or huge).
      const parts = events.map((e) => encodeEventStream([e]));
      const i = rng.int(parts.length);
      const p = parts[i]!;
      let hl = 0;
      while (p[hl]! & 0x80) hl++;
      const body = p.subarray(hl + 1);
      const len = rng.pick([body.length + 1, Math.max(0, body.length - 1), 0x7fffffff, rng.int(body.length + 10)]);
      const v: number[] = [];
      for (let x = len >>> 0; ; x >>>= 7) {
        if (x < 0x80) {
          v.push(x);
          break;
        }
        v.push((x & 0x7f) | 0x80);
      }
      parts[i] = Buffer.concat([Buffer.from(v), body]);
      return Buffer.concat(parts);
    },
  },
  {
    // Issue 13 item 1: a blob of the wrong size named as a page or disk block.
    kind: 'blob-wrong-size',
    apply: onEvents((rng, ev, view) =>
      renameBlob(rng, ev, (blk) => {
        const bs = blk ? Math.max(view.pageSize, ...view.disks.map((d) => d.blockSize)) : view.pageSize;
        return rng.bytes(rng.pick([100, 8192, bs * 2, bs - 1, 1]));
      }),
    ),
  },
  {
    // Item 1 again: a stored blob of another size (a device chunk, a frame chunk) named as a page or block.
    kind: 'blob-stored-wrong-size',
    apply: (rng, events, view) => {
      const odd = [...view.blobs.values()].filter((b) => b.length !== view.pageSize && !view.disks.some((d) => d.blockSize === b.length));
      if (!odd.length) return undefined;
      const data = rng.pick(odd);
      return onEvents((r, ev) => {
        if (!renameBlob(r, ev, () => data)) return false;
        // The blob is stored already: do not give it again.
        const at = ev.findIndex((e) => isBlob(e) && Buffer.from(e.blob!.data!).equals(data));
        ev.splice(at, 1);
      })(rng, events, view);
    },
  },
  {
    kind: 'blob-missing',
    apply: onEvents((rng, ev) => {
      const blobs = ev.map((e, i) => [e, i] as const).filter(([e]) => isBlob(e));
      if (!blobs.length) return false;
      ev.splice(rng.pick(blobs)[1], 1);
    }),
  },
  {
    kind: 'blob-corrupt',
    apply: onEvents((rng, ev) => {
      const blobs = ev.filter((e) => isBlob(e) && e.blob!.data!.length > 0);
      if (!blobs.length) return false;
      const d = Buffer.from(rng.pick(blobs).blob!.data!);
      d[rng.int(d.length)]! ^= 1 << rng.int(8);
      rng.pick(blobs).blob!.data = d;
    }),
  },
  {
    kind: 'zero-address',
    apply: onEvents((rng, ev) => {
      const t = [...withBody(ev, 'pages'), ...withBody(ev, 'diskWrite')].filter(([e]) => (e.pages?.addrs ?? e.diskWrite?.addrs)?.length);
      if (!t.length) return false;
      const e = rng.pick(t)[0];
      const list = e.pages ?? e.diskWrite!;
      const a = Buffer.from(list.addrs ?? []);
      a.fill(0, 0, 32);
      list.addrs = a;
    }),
  },
  {
    kind: 'count-mismatch',
    apply: onEvents((rng, ev) => {
      const t = [...withBody(ev, 'pages'), ...withBody(ev, 'diskWrite'), ...withBody(ev, 'device'), ...withBody(ev, 'frame')];
      if (!t.length) return false;
      const e = rng.pick(t)[0];
      const cut = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).subarray(0, Math.max(0, (b?.length ?? 0) - rng.pick([32, 1, 31])));
      if (e.pages) {
        if (rng.chance(0.5)) e.pages.addrs = cut(e.pages.addrs);
        else e.pages.pfns!.push(0);
      } else if (e.diskWrite) {
        if (rng.chance(0.5)) e.diskWrite.addrs = cut(e.diskWrite.addrs);
        else e.diskWrite.blocks!.push(0);
      } else if (e.device) e.device.chunkAddrs = cut(e.device.chunkAddrs);
      else e.frame!.chunkAddrs = cut(e.frame!.chunkAddrs);
    }),
  },
  {
    // The length of a device state or frame other than its chunks' total.
    kind: 'length-field',
    apply: onEvents((rng, ev) => {
      const t = [...withBody(ev, 'device'), ...withBody(ev, 'frame')];
      if (!t.length) return false;
      const body = rng.pick(t)[0];
      const d = (body.device ?? body.frame)!;
      d.length = Math.max(0, Number(d.length) + rng.pick([1, -1, 1000, 4096]));
    }),
  },
  {
    kind: 'pfn-out-of-range',
    apply: onEvents((rng, ev, view) => {
      const t = withBody(ev, 'pages');
      if (!t.length) return false;
      const p = rng.pick(t)[0].pages!;
      const layout = withBody(ev, 'memoryLayout')[0]?.[0].memoryLayout;
      const pages = layout ? Number(layout.size) / view.pageSize : view.memoryPages;
      const bad = rng.pick([pages, pages + 1, 0xffffffff, 1 << 20]);
      if (p.pfns!.length && rng.chance(0.6)) p.pfns![rng.int(p.pfns!.length)] = bad;
      else p.zeroPfns = [...(p.zeroPfns ?? []), bad];
    }),
  },
  {
    kind: 'disk-range',
    apply: onEvents((rng, ev, view) => {
      const t = withBody(ev, 'diskWrite');
      if (!t.length) return false;
      const w = rng.pick(t)[0].diskWrite!;
      const d = view.disks.find((x) => x.name === w.disk) ?? { size: 1 << 20, blockSize: view.pageSize };
      switch (rng.int(5)) {
        case 0:
          w.offset = d.size;
          break;
        case 1:
          w.offset = Number(w.offset) + rng.pick([1, 512, d.blockSize / 2]);
          break;
        case 2:
          w.length = Number(w.length) + d.size;
          break;
        case 3:
          w.offset = '18446744073709547520' as never; // 2^64 - 4096
          break;
        default:
          if (w.blocks!.length) w.blocks![0] = Number(w.length) / d.blockSize + rng.int(3);
          else w.zeroBlocks = [0xffffffff];
      }
    }),
  },
  {
    kind: 'unknown-disk',
    apply: onEvents((rng, ev) => {
      const t = withBody(ev, 'diskWrite');
      if (!t.length) return false;
      rng.pick(t)[0].diskWrite!.disk = rng.pick(['nope', '', 'D0']);
    }),
  },
  {
    kind: 'epoch-number',
    apply: onEvents((rng, ev) => {
      const t = [...withBody(ev, 'epochBegin'), ...withBody(ev, 'epochCommit')];
      if (!t.length) return false;
      const e = rng.pick(t)[0];
      const body = (e.epochBegin ?? e.epochCommit)!;
      body.epoch = rng.pick([Number(body.epoch) + 1, Number(body.epoch) - 1, 1 << 30, Number(body.epoch) + 2]);
      if (Number(body.epoch) < 0) body.epoch = 7;
    }),
  },
  {
    kind: 'frame-number',
    apply: onEvents((rng, ev) => {
      const t = withBody(ev, 'frame');
      if (!t.length) return false;
      const f = rng.pick(t)[0].frame!;
      f.frame = rng.pick([Number(f.frame) + 1, Math.max(0, Number(f.frame) - 1) === Number(f.frame) ? 5 : Number(f.frame) - 1, 1 << 30]);
    }),
  },
  {
    kind: 'unclosed-epoch',
    apply: onEvents((rng, ev) => {
      const t = withBody(ev, 'epochCommit');
      if (!t.length) return false;
      ev.splice(rng.pick(t)[1], 1);
    }),
  },
  {
    kind: 'reorder',
    apply: onEvents((rng, ev) => {
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      if (idx.length < 2) return false;
      const a = rng.pick(idx);
      const b = rng.pick(idx.filter((i) => i !== a));
      [ev[a], ev[b]] = [ev[b]!, ev[a]!];
      // Swapping also swaps times: keep them in order so that only the order is wrong.
      const times = idx.map((i) => ev[i]!.timeUs).sort((x, y) => Number(x ?? 0) - Number(y ?? 0));
      idx.forEach((i, k) => (ev[i]!.timeUs = times[k]));
    }),
  },
  {
    kind: 'duplicate',
    apply: onEvents((rng, ev) => {
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      const i = rng.pick(idx);
      ev.splice(i + 1, 0, structuredClone(ev[i]!));
    }),
  },
  {
    kind: 'drop-event',
    apply: onEvents((rng, ev) => {
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      if (idx.length < 2) return false;
      ev.splice(rng.pick(idx), 1);
    }),
  },
  {
    kind: 'time-backwards',
    apply: onEvents((rng, ev, view) => {
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      const i = rng.pick(idx);
      ev[i]!.timeUs = rng.pick([Math.max(1, view.lastTimeUs - rng.range(1, 10_000_000)), 1, -5]);
    }),
  },
  {
    // Issue 13 item 4: a time in the year 3000 (or any time far ahead of the clock).
    kind: 'time-far-future',
    apply: onEvents((rng, ev) => {
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      const i = rng.pick(idx);
      const t = rng.pick([Date.parse('3000-01-01T00:00:00Z') * 1000, Date.now() * 1000 + 30 * 24 * 3600e6]);
      for (const k of idx) if (k >= i) ev[k]!.timeUs = t + k;
    }),
  },
  {
    kind: 'device-hash',
    apply: onEvents((rng, ev) => {
      const t = withBody(ev, 'device');
      if (!t.length) return false;
      const d = rng.pick(t)[0].device!;
      d.contentHash = rng.chance(0.5) ? rng.bytes(32) : Buffer.from(d.contentHash ?? []).subarray(0, 31);
    }),
  },
  {
    kind: 'frame-hash',
    apply: onEvents((rng, ev) => {
      const t = withBody(ev, 'frame');
      if (!t.length) return false;
      rng.pick(t)[0].frame!.contentHash = rng.bytes(32);
    }),
  },
  {
    kind: 'memory-layout',
    apply: onEvents((rng, ev, view) => {
      const t = withBody(ev, 'epochBegin');
      if (!t.length) return false;
      const size = rng.pick([0, view.pageSize + 1, (view.memoryPages + 1) * view.pageSize, 100, view.pageSize * 3]);
      const at = t[0]![1] + 1;
      ev.splice(at, 0, { memoryLayout: { size } });
    }),
  },
  {
    kind: 'disk-create',
    apply: onEvents((rng, ev, view) => {
      const name = rng.pick(['', 'a/b', 'x'.repeat(65), view.disks[0]?.name ?? 'dup', 'ok']);
      const blockSize = rng.pick([view.pageSize / 2, view.pageSize * 3, 1 << 21, 0, 65536]);
      const size = rng.pick([0, 4097, 65536 * 3 + 4096, 8192]);
      ev.push({ diskCreate: { name, size, blockSize } });
      if (name === 'ok') ev.push({ diskCreate: { name, size: 65536, blockSize: 65536 } });
    }),
  },
  {
    kind: 'state-root',
    apply: onEvents((rng, ev) => {
      const t = withBody(ev, 'epochCommit');
      if (!t.length) return false;
      rng.pick(t)[0].epochCommit!.stateRoot = rng.bytes(rng.pick([32, 31, 1]));
    }),
  },
  {
    kind: 'bad-body',
    apply: onEvents((rng, ev) => {
      const bad: IEvent = rng.pick<IEvent>([
        {},
        { header: { formatVersion: 1, pageSize: 4096 } },
        { label: { text: '' } },
        { fork: { parent: 'x', point: 'head' } },
        { frame: { frame: 0, chunkAddrs: Buffer.alloc(0), contentHash: sha(Buffer.alloc(0)) } },
        { pages: { pfns: [0], addrs: Buffer.alloc(32, 1) } },
      ]);
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      ev.splice(rng.pick(idx), 0, bad);
    }),
  },
  {
    kind: 'two-bodies',
    apply: onEvents((rng, ev) => {
      const idx = ev.map((e, i) => i).filter((i) => !isBlob(ev[i]!));
      const e = ev[rng.pick(idx)]!;
      if (rng.chance(0.5)) e.label = { text: 'two' };
      else e.vmConfig = { json: '{}' };
      if (bodiesOf(e).length < 2) return false;
    }),
  },
];
