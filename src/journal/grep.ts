import { ErrorCodes, TtjError } from '../errors.js';
import { ZERO_ADDR } from '../util/hash.js';
import { scanBlobs } from './grep-blobs.js';
import { parseGrepPattern, PatternMatcher, type GrepPatternInput } from './grep-pattern.js';
import { GrepTracker, type GrepSpace, type RawSpan } from './grep-tracker.js';
import type { ttj } from '../gen/events.js';
import type { FrameEntry } from './index-keys.js';
import type { Journal } from './journal.js';
import { resolvePoint } from './point.js';
import { Replayer } from './replayer.js';
import { stateAt } from './state-at.js';
import { VmState } from './vm-state.js';

/** Options of {@link grep}. */
export interface GrepOptions extends GrepPatternInput {
  /** Only the history at or after this POINT. */
  since?: string;
  /** Only the history at or before this POINT (default: the head). */
  until?: string;
  /** Only the memory. */
  memory?: boolean;
  /** Only this disk. */
  disk?: string;
  /** Report at most this many places (the first by space and offset); `truncated` says when more were found. */
  limit?: number;
  /** Also re-hash every blob searched against its address (default false: the store's own checksums apply). */
  verify?: boolean;
  /** Progress of the blob scan, in blobs. */
  onProgress?: (done: number, total: number) => void;
}

/** A moment of the history: an event, its time, the epoch a fold at `seq:SEQ` shows, and the nearest frame. */
export interface GrepMoment {
  seq: number;
  /** ISO-8601 time of the event. */
  time: string;
  timeUs: number;
  /** The last epoch committed at or before `seq` (-1: none): the memory a fold at `seq:SEQ` holds. */
  epoch: number;
  /** The first frame of that epoch, else the last frame before `seq`, if any. */
  frame?: number;
}

/** A stretch of history over which the bytes were at one place. */
export interface GrepSpan {
  /** First seen: the event that put them there (for memory, its epoch's commit), or the window's start when they were there before it. */
  first: GrepMoment;
  /** Last seen: the event before the one that took them away, or the window's end. */
  last: GrepMoment;
  /** The event that took them away (changed the page or block); absent: still there at the window's end. */
  removed?: GrepMoment;
  /** The committed epochs whose fold holds them (`ttj fold --at epoch:N`); absent when none does (disk content overwritten between two commits). */
  epochs?: { first: number; last: number };
}

/** One place where the bytes were, with when. */
export interface GrepPlace {
  where: 'memory' | 'disk';
  /** The disk's name (for `where: 'disk'`). */
  disk?: string;
  /** Byte offset of the match's first byte: in memory the guest-physical address (the RAM image's offset), on a disk the disk offset. */
  offset: number;
  /** The page (memory: pfn) or disk block it starts in, and its offset there. */
  page: number;
  pageOffset: number;
  /** True when the match runs across the end of its page or block into the next one. */
  crosses: boolean;
  /** When the bytes were there, oldest first. */
  spans: GrepSpan[];
}

/** `ttj grep --json`. */
export interface GrepResult {
  journal: string;
  pattern: { hex: string; length: number };
  /** The history searched: from `since` to `until` (seqs, both included). */
  window: { since: number; until: number };
  /** The distinct content searched: each stored page and disk block once. */
  searched: { blobs: number; bytes: number; blobsWithMatches: number };
  places: GrepPlace[];
  /** Places found (more than `places.length` when the limit cut the list). */
  totalPlaces: number;
  truncated: boolean;
}

/**
 * Every place (memory address, disk offset) where a byte string was in the journal's
 * history, with the stretches of history it was there. Each stored blob is searched
 * once (content addressing: the cost grows with the distinct content, not with the
 * history); then one replay of the events maps the matching blobs to where and when
 * they were, and finds the matches across page and block boundaries from the edges of
 * the adjacent blobs (docs/forensics.md).
 * @throws TtjError BAD_ARGUMENT (the pattern, an unknown disk, --since after --until), BAD_POINT, POINT_NOT_FOUND, CORRUPT_EVENT, CORRUPT_BLOB, STATE_ROOT_MISMATCH.
 */
export async function grep(j: Journal, opts: GrepOptions): Promise<GrepResult> {
  const pattern = parseGrepPattern(opts, j.pageSize);
  if (opts.memory && opts.disk !== undefined) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'give at most one of --memory and --disk NAME');
  const disks = await j.diskStats();
  if (opts.disk !== undefined && !disks.some((d) => d.disk === opts.disk)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the journal has no disk ${JSON.stringify(opts.disk)}`, { actual: opts.disk });
  const wantMemory = opts.disk === undefined;
  const wantDisk = (name: string) => !opts.memory && (opts.disk === undefined || opts.disk === name);

  const headSeq = (await j.storeHead())?.seq ?? -1;
  const since = opts.since ? await resolvePoint(j, opts.since) : undefined;
  const untilSeq = opts.until ? (await resolvePoint(j, opts.until)).seq : headSeq;
  const sinceSeq = since?.seq ?? 0;
  if (sinceSeq > untilSeq) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--since ${opts.since} (seq ${sinceSeq}) is after --until ${opts.until} (seq ${untilSeq})`);

  const matcher = new PatternMatcher(pattern);
  const sizes = new Set<number>();
  if (wantMemory) sizes.add(j.pageSize);
  for (const d of disks) if (wantDisk(d.disk)) sizes.add(d.blockSize ?? j.pageSize);
  const found = await scanBlobs(j, matcher, sizes, { verify: opts.verify, onProgress: opts.onProgress });

  const tracker = new GrepTracker(found, pattern.length);
  const history = await replay(j, tracker, since && since.epoch >= 0 ? since.epochSeq : -1, untilSeq, { wantMemory, wantDisk });
  const frames: FrameEntry[] = [];
  for await (const f of j.frames()) frames.push(f);
  const moments = new Moments(history, frames);

  const places = new Map<string, GrepPlace>();
  const spans = tracker
    .spans()
    .map((s) => ({ ...s, from: Math.max(s.from, sinceSeq) }))
    .filter((s) => s.to === undefined || s.to > s.from)
    .sort((a, b) => a.from - b.from);
  for (const s of spans) {
    const key = `${s.space.kind}:${s.space.name}:${s.offset}`;
    let p = places.get(key);
    if (!p) {
      const page = Math.floor(s.offset / s.space.unit);
      const pageOffset = s.offset - page * s.space.unit;
      p = { where: s.space.kind, disk: s.space.kind === 'disk' ? s.space.name : undefined, offset: s.offset, page, pageOffset, crosses: pageOffset + pattern.length > s.space.unit, spans: [] };
      places.set(key, p);
    }
    p.spans.push(moments.span(s, untilSeq));
  }
  const all = [...places.values()].sort((a, b) => (a.where === b.where ? (a.disk ?? '').localeCompare(b.disk ?? '') || a.offset - b.offset : a.where === 'memory' ? -1 : 1));
  const limit = opts.limit ?? Infinity;
  return {
    journal: j.location,
    pattern: { hex: pattern.toString('hex'), length: pattern.length },
    window: { since: sinceSeq, until: untilSeq },
    searched: { blobs: found.blobs, bytes: found.bytes, blobsWithMatches: found.inBlob.size },
    places: all.slice(0, limit),
    totalPlaces: all.length,
    truncated: all.length > limit,
  };
}

/** What the replay saw: each event's time, and each commit. */
interface History {
  /** Seq of the first entry of `timesUs`. */
  firstSeq: number;
  timesUs: number[];
  commits: { epoch: number; seq: number }[];
}

/**
 * Replays the events from `startSeq` (a commit, or -1 for the start) to `untilSeq`,
 * checking the chain and every state root, and tells the tracker which pages and
 * blocks each event changed: memory at its epoch's commit, disks at each write.
 */
async function replay(j: Journal, tracker: GrepTracker, startSeq: number, untilSeq: number, want: { wantMemory: boolean; wantDisk: (name: string) => boolean }): Promise<History> {
  const history: History = { firstSeq: Math.max(startSeq, 0), timesUs: [], commits: [] };
  let replayer: Replayer;
  if (startSeq >= 0) {
    const at = await stateAt(j, startSeq);
    replayer = new Replayer(at.state, at.lastHash, startSeq + 1);
    history.timesUs.push(at.epoch!.timeUs);
    history.commits.push({ epoch: at.epoch!.epoch, seq: startSeq });
  } else replayer = new Replayer(new VmState(j.pageSize), ZERO_ADDR, 0);
  const state = replayer.state;
  const spaces = new Map<string, GrepSpace>();
  const space = (kind: 'memory' | 'disk', name: string, seq: number): GrepSpace | undefined => {
    const key = `${kind}:${name}`;
    let s = spaces.get(key);
    if (s) return s;
    if (kind === 'memory') {
      if (!want.wantMemory || !state.memory) return undefined;
      s = { kind, name, unit: j.pageSize, size: state.memorySize, table: state.memory };
    } else {
      const d = state.disks.get(name);
      if (!d || !want.wantDisk(name)) return undefined;
      s = { kind, name, unit: d.blockSize, size: d.size, table: d.table };
    }
    spaces.set(key, s);
    tracker.add(s, seq);
    return s;
  };
  if (startSeq >= 0) {
    space('memory', 'memory', startSeq);
    for (const name of state.disks.keys()) space('disk', name, startSeq);
  }
  let pendingPfns: number[] = [];
  for await (const batch of j.storedEvents(startSeq + 1, untilSeq + 1)) {
    for (const { seq, bytes } of batch) {
      const ev = replayer.feed(seq, bytes);
      history.timesUs.push(Number(ev.timeUs));
      switch (ev.body) {
        case 'epochBegin':
          pendingPfns = [];
          break;
        case 'pages': {
          const p = ev.pages as ttj.v1.PageBatch;
          for (const pfn of p.pfns) pendingPfns.push(pfn);
          for (const pfn of p.zeroPfns) pendingPfns.push(pfn);
          break;
        }
        case 'epochCommit': {
          history.commits.push({ epoch: Number(ev.epochCommit!.epoch), seq });
          const s = space('memory', 'memory', seq);
          if (s && pendingPfns.length) tracker.changed(s, pendingPfns, seq);
          pendingPfns = [];
          break;
        }
        case 'diskCreate':
          space('disk', (ev.diskCreate as ttj.v1.DiskCreate).name, seq);
          break;
        case 'diskWrite': {
          const w = ev.diskWrite as ttj.v1.DiskWrite;
          const s = space('disk', w.disk, seq);
          if (!s) break;
          const first = Number(w.offset) / s.unit;
          tracker.changed(s, [...w.blocks.map((b) => first + b), ...w.zeroBlocks.map((b) => first + b)], seq);
          break;
        }
        default:
          break;
      }
    }
  }
  return history;
}

/** Turns seqs into {@link GrepMoment}s. */
class Moments {
  private readonly firstFrameOf = new Map<number, number>();

  constructor(
    private readonly h: History,
    private readonly frames: FrameEntry[],
  ) {
    for (const f of frames) if (!this.firstFrameOf.has(f.epoch)) this.firstFrameOf.set(f.epoch, f.frame);
  }

  span(s: RawSpan, untilSeq: number): GrepSpan {
    const lastSeq = s.to === undefined ? untilSeq : s.to - 1;
    const c = this.h.commits;
    const firstCommit = lowerBound(c, (x) => x.seq >= s.from);
    const afterLast = lowerBound(c, (x) => x.seq > lastSeq);
    return {
      first: this.at(s.from),
      last: this.at(lastSeq),
      removed: s.to === undefined ? undefined : this.at(s.to),
      epochs: firstCommit < afterLast ? { first: c[firstCommit]!.epoch, last: c[afterLast - 1]!.epoch } : undefined,
    };
  }

  at(seq: number): GrepMoment {
    const timeUs = this.h.timesUs[seq - this.h.firstSeq] ?? 0;
    const i = lowerBound(this.h.commits, (x) => x.seq > seq) - 1;
    const epoch = i >= 0 ? this.h.commits[i]!.epoch : -1;
    let frame = this.firstFrameOf.get(epoch);
    if (frame === undefined) {
      const k = lowerBound(this.frames, (f) => f.seq > seq) - 1;
      if (k >= 0) frame = this.frames[k]!.frame;
    }
    return { seq, time: new Date(timeUs / 1000).toISOString(), timeUs, epoch, frame };
  }
}

/** The first index of sorted `xs` for which `ok` holds (`ok` holds for a suffix). */
function lowerBound<T>(xs: T[], ok: (x: T) => boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ok(xs[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
