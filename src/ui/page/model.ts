/** What the page derives from the timeline, without the DOM. */
import type { EpochEntry, FrameEntry, Timeline } from './types.js';

/** A stretch of the recording with no frame: longer than GAP_FACTOR times the usual frame interval. */
export interface Gap {
  /** The frame before it and the frame after it. */
  before: number;
  after: number;
  ms: number;
}

const GAP_FACTOR = 4;

/** The median of positive numbers (0 for none). */
function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** The gaps between frames where nothing was recorded. */
export function gaps(frames: FrameEntry[]): Gap[] {
  const steps = frames.slice(1).map((f, i) => (f.timeUs - frames[i]!.timeUs) / 1000);
  const usual = median(steps);
  const out: Gap[] = [];
  if (usual <= 0) return out;
  steps.forEach((ms, i) => {
    if (ms > GAP_FACTOR * usual && ms > 1000) out.push({ before: frames[i]!.frame, after: frames[i + 1]!.frame, ms });
  });
  return out;
}

/** The frame shown for epoch `e`: the first frame bound to it, else the next one after it. */
export function firstFrameOf(frames: FrameEntry[], e: EpochEntry): number {
  const f = frames.find((x) => x.seq > e.seq);
  return f ? f.frame : frames.length - 1;
}

/** Adds a live commit's epochs and frames (those not yet known) to the timeline. */
export function appendCommit(t: Timeline, epochs: EpochEntry[], frames: FrameEntry[]): void {
  for (const e of epochs) if (e.epoch === t.epochs.length) t.epochs.push(e);
  for (const f of frames) if (f.frame === t.frames.length) t.frames.push(f);
  const lastE = t.epochs[t.epochs.length - 1];
  const lastF = t.frames[t.frames.length - 1];
  t.head = { ...t.head, epoch: lastE?.epoch ?? -1, frame: lastF?.frame ?? -1, time: lastE?.time };
}

/** How long to wait before showing the frame after `i`, at the recorded speed (capped so a gap does not stall playback). */
export function playDelayMs(frames: FrameEntry[], i: number): number {
  const a = frames[i];
  const b = frames[i + 1];
  if (!a || !b) return 0;
  return Math.min(Math.max((b.timeUs - a.timeUs) / 1000, 10), 1000);
}
