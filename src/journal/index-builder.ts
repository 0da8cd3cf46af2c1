/**
 * The secondary index derived from the events: the one place that decides what the
 * index says of an event. The writer builds each batch's entries with it, `verify`
 * rebuilds the whole index with it and compares, and `repair` writes what it rebuilt.
 */
import type { ttj } from '../gen/events.js';
import type { IndexEntry } from '../store/store.js';
import { buf, type Event } from './codec.js';
import { bytesPerFrame } from './audio-format.js';
import {
  audioKey,
  diskStatsKey,
  epochKey,
  frameKey,
  jsonValue,
  keyframeKey,
  labelKey,
  prunedKey,
  vmConfigKey,
  type AudioEntry,
  type DiskStats,
  type EpochEntry,
  type FrameEntry,
  type KeyframeEntry,
} from './index-keys.js';

/** What an index builder needs of a disk it has no statistics for yet (one created before statistics existed). */
export type DiskInfo = (name: string) => { size: number; blockSize: number } | undefined;

const isoTime = (us: number) => new Date(us / 1000).toISOString();

/**
 * Derives index entries from stored events, fed in stream order (each as stored:
 * with its seq, time, and the epoch its frame or label is bound to).
 */
export class IndexBuilder {
  /** vm/, lb/, fr/, au/ and kf/ entries, in stream order. */
  private readonly entries: IndexEntry[] = [];
  /** Epochs committed by the events fed. */
  readonly epochs: EpochEntry[] = [];
  /** Frames fed. */
  readonly frames: FrameEntry[] = [];
  /** Disks created or written by the events fed. */
  readonly touchedDisks = new Set<string>();
  private open: { epoch: number; device: number; labels: string[] } | undefined;

  /**
   * @param diskStats running disk statistics, updated in place (the writer passes a copy of its own).
   * @param diskInfo size and block size of a disk missing from `diskStats`.
   */
  constructor(
    private readonly pageSize: number,
    readonly diskStats: Map<string, DiskStats> = new Map(),
    private readonly diskInfo: DiskInfo = () => undefined,
  ) {}

  /** Epochs from this index on are not covered by a signature yet. */
  private unsigned = 0;

  /** Takes one stored event into account. */
  feed(seq: number, ev: Event): void {
    this.feedBody(seq, ev);
    const signer = buf(ev.signer);
    if (signer.length) {
      for (const e of this.epochs.slice(this.unsigned)) e.signer = signer.toString('hex');
      this.unsigned = this.epochs.length;
    }
  }

  private feedBody(seq: number, ev: Event): void {
    const timeUs = Number(ev.timeUs);
    switch (ev.body) {
      case 'diskCreate': {
        const c = ev.diskCreate as ttj.v1.DiskCreate;
        this.diskStats.set(c.name, { disk: c.name, size: Number(c.size), blockSize: c.blockSize || this.pageSize, writes: 0, blocks: 0, lastSeq: seq });
        this.touchedDisks.add(c.name);
        return;
      }
      case 'diskWrite': {
        const w = ev.diskWrite as ttj.v1.DiskWrite;
        const known = this.diskInfo(w.disk);
        const d = this.diskStats.get(w.disk) ?? { disk: w.disk, size: known?.size ?? 0, blockSize: known?.blockSize, writes: 0, blocks: 0, lastSeq: 0 };
        d.writes++;
        d.blocks += w.blocks.length + w.zeroBlocks.length;
        d.lastSeq = seq;
        this.diskStats.set(d.disk, d);
        this.touchedDisks.add(d.disk);
        return;
      }
      case 'prune':
        for (const e of (ev.prune as ttj.v1.PruneRecord).epochs) {
          const epoch = Number(e);
          this.entries.push({ key: prunedKey(epoch), value: jsonValue({ epoch, seq, time: isoTime(timeUs) }) });
        }
        return;
      case 'vmConfig':
        this.entries.push({ key: vmConfigKey(seq), value: jsonValue({ seq, json: ev.vmConfig!.json || '{}' }) });
        return;
      case 'epochBegin':
        this.open = { epoch: Number(ev.epochBegin!.epoch), device: 0, labels: [] };
        return;
      case 'device':
        if (this.open) this.open.device += Number(ev.device!.length);
        return;
      case 'label': {
        const { text, epoch: e } = ev.label as ttj.v1.Label;
        const epoch = Number(e);
        if (this.open) this.open.labels.push(text);
        this.entries.push({ key: labelKey(text, epoch), value: jsonValue({ epoch, seq, text }) });
        return;
      }
      case 'frame': {
        const f = ev.frame as ttj.v1.VideoFrame;
        const entry: FrameEntry = {
          frame: Number(f.frame),
          seq,
          epoch: Number(f.epoch),
          time: isoTime(timeUs),
          timeUs,
          format: f.format || 'png',
          width: f.width,
          height: f.height,
          bytes: Number(f.length),
        };
        this.frames.push(entry);
        this.entries.push({ key: frameKey(entry.frame), value: jsonValue(entry) });
        return;
      }
      case 'audio': {
        const a = ev.audio as ttj.v1.AudioChunk;
        const bytes = Number(a.length);
        const entry: AudioEntry = {
          seq,
          epoch: Number(a.epoch),
          time: isoTime(timeUs),
          timeUs,
          firstSample: Number(a.firstSample),
          samples: bytes / bytesPerFrame(a),
          sampleRate: a.sampleRate,
          channels: a.channels,
          format: a.format,
          bytes,
        };
        this.entries.push({ key: audioKey(seq), value: jsonValue(entry) });
        return;
      }
      case 'epochCommit': {
        const c = ev.epochCommit as ttj.v1.EpochCommit;
        const epoch = Number(c.epoch);
        const keyframe = buf(c.keyframe);
        if (keyframe.length) {
          const kf: KeyframeEntry = { seq, epoch, addr: keyframe.toString('hex') };
          this.entries.push({ key: keyframeKey(seq), value: jsonValue(kf) });
        }
        this.epochs.push({
          epoch,
          seq,
          beginSeq: Number(c.beginSeq),
          time: isoTime(timeUs),
          timeUs,
          labels: this.open?.labels ?? [],
          dirtyPages: c.dirtyPages,
          zeroPages: c.zeroPages,
          diskBlocks: c.diskBlocks,
          deviceBytes: this.open?.device ?? 0,
          newBytes: 0,
          storedBytes: 0,
          keyframe: keyframe.length > 0,
          stateRoot: buf(c.stateRoot).toString('hex'),
          ...(c.pauseUs === null || c.pauseUs === undefined ? {} : { pauseUs: c.pauseUs }),
        });
        this.open = undefined;
        return;
      }
      default:
        return;
    }
  }

  /** Every entry the events fed call for: the stream's entries, the epochs, and the statistics of the disks touched. */
  index(): IndexEntry[] {
    return [...this.entries, ...this.epochs.map((e) => ({ key: epochKey(e.epoch), value: jsonValue(e) })), ...[...this.touchedDisks].map((d) => ({ key: diskStatsKey(d), value: jsonValue(this.diskStats.get(d)) }))];
  }
}
