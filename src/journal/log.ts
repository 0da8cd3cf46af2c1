import type { Journal, JournalHead } from './journal.js';
import type { AudioEntry, DiskStats, EpochEntry, FrameEntry } from './index-keys.js';
import { resolvePoint } from './point.js';

/** Options of {@link log}. */
export interface LogOptions {
  /** Only entries at or after this POINT. */
  since?: string;
  /** Only entries at or before this POINT. */
  until?: string;
}

/** `ttj log --json`. */
export interface LogResult {
  journal: string;
  pageSize: number;
  head: JournalHead;
  epochs: EpochEntry[];
  frames: FrameEntry[];
  /** Audio chunks (docs/format.md, "Audio"), in stream order. */
  audio: AudioEntry[];
  /** Every disk (its size and block size) and its writes so far (outside and inside epochs). */
  disks: DiskStats[];
  store: { blobs: number; rawBytes: number; storedBytes: number };
}

/** Epochs, frames, audio, labels and sizes, from the index (cost grows with the entries listed, not the events). */
export async function log(j: Journal, opts: LogOptions = {}): Promise<LogResult> {
  const head = await j.head();
  const lo = opts.since ? (await resolvePoint(j, opts.since)).seq : 0;
  const hi = opts.until ? (await resolvePoint(j, opts.until)).seq : head.seq;
  const labels = new Map<number, string[]>();
  for await (const l of j.labels()) labels.set(l.epoch, [...(labels.get(l.epoch) ?? []), l.text]);
  const epochs: EpochEntry[] = [];
  for await (const e of j.epochs()) {
    if (e.seq < lo || e.seq > hi) continue;
    epochs.push({ ...e, labels: labels.get(e.epoch) ?? [] });
  }
  const frames: FrameEntry[] = [];
  for await (const f of j.frames()) if (f.seq >= lo && f.seq <= hi) frames.push(f);
  const audio: AudioEntry[] = [];
  for await (const a of j.audio({ from: lo, to: hi + 1 })) audio.push(a);
  const disks = (await j.diskStats()).map((d) => ({ ...d, blockSize: d.blockSize ?? j.pageSize }));
  return { journal: j.location, pageSize: j.pageSize, head, epochs, frames, audio, disks, store: await j.storeStats() };
}
