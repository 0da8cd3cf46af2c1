/**
 * The journal's secondary index (kept by the store beside the events, written in
 * the same atomic batch). Values are small JSON documents.
 */
const pad = (n: number, w = 12) => String(n).padStart(w, '0');

/** The first key after every key that starts with `prefix` (a prefix ending in '/'). */
export const prefixEnd = (prefix: string) => prefix.slice(0, -1) + '0';
/** Prefix of the epoch entries. */
export const EPOCH_PREFIX = 'ep/';
export const epochKey = (epoch: number) => `${EPOCH_PREFIX}${pad(epoch)}`;
/** Prefix of the frame entries. */
export const FRAME_PREFIX = 'fr/';
export const frameKey = (frame: number) => `${FRAME_PREFIX}${pad(frame)}`;
/** Prefix of the audio entries, keyed by the seq of their event (stream order). */
export const AUDIO_PREFIX = 'au/';
export const audioKey = (seq: number) => `${AUDIO_PREFIX}${pad(seq, 15)}`;
/** Prefix of the keyframe entries. */
export const KEYFRAME_PREFIX = 'kf/';
export const keyframeKey = (seq: number) => `${KEYFRAME_PREFIX}${pad(seq, 15)}`;
/** Prefix of the label entries. */
export const LABEL_PREFIX = 'lb/';
export const labelKey = (text: string, epoch: number) => `${labelPrefix(text)}${pad(epoch)}`;
/** Prefix of the VM configuration entries. */
export const VM_CONFIG_PREFIX = 'vm/';
export const vmConfigKey = (seq: number) => `${VM_CONFIG_PREFIX}${pad(seq, 15)}`;
/** Running totals of a disk's writes (`ttj log`, also while `ttj nbd` serves it). */
/** Prefix of the disk statistics entries. */
export const DISK_STATS_PREFIX = 'dw/';
export const diskStatsKey = (disk: string) => `${DISK_STATS_PREFIX}${disk}`;
/** Prefix of the entries of epochs a prune dropped. */
export const PRUNED_PREFIX = 'pr/';
export const prunedKey = (epoch: number) => `${PRUNED_PREFIX}${pad(epoch)}`;
export const labelPrefix = (text: string) => `${LABEL_PREFIX}${Buffer.from(text).toString('hex')}/`;

/** What the index says of one committed epoch (also the `ttj log` entry). */
export interface EpochEntry {
  epoch: number;
  /** Seq of its EpochCommit event. */
  seq: number;
  beginSeq: number;
  /** ISO-8601 time of the commit. */
  time: string;
  timeUs: number;
  labels: string[];
  dirtyPages: number;
  zeroPages: number;
  diskBlocks: number;
  deviceBytes: number;
  /** Uncompressed bytes of content first stored by this epoch. */
  newBytes: number;
  /** Compressed bytes this epoch wrote to pack files. */
  storedBytes: number;
  keyframe: boolean;
  stateRoot: string;
  /**
   * How long the VM was paused to capture this epoch, µs (`ttj record` stores it).
   * Absent: not recorded (an older journal, or an epoch appended from images or by ttj nbd).
   */
  pauseUs?: number;
  /**
   * Hex fingerprint of the key whose signature covers the commit: the signer the first
   * signed event at or after it names (absent: none yet). `verify --trust` checks it.
   */
  signer?: string;
}

/** What the index says of one video frame. */
export interface FrameEntry {
  frame: number;
  seq: number;
  epoch: number;
  time: string;
  timeUs: number;
  format: string;
  width: number;
  height: number;
  bytes: number;
}

/** What the index says of one audio chunk (docs/format.md, "Audio"). */
export interface AudioEntry {
  /** Seq of its event. */
  seq: number;
  /** The epoch it is bound to (the last committed before it). */
  epoch: number;
  /** ISO-8601 time it was appended. */
  time: string;
  timeUs: number;
  /** Index of its first sample frame in its recording's stream. */
  firstSample: number;
  /** Sample frames it holds. */
  samples: number;
  sampleRate: number;
  channels: number;
  format: string;
  bytes: number;
}

/** What the index says of one label. */
export interface LabelEntry {
  epoch: number;
  seq: number;
  text: string;
}

/** What the index says of an epoch a prune dropped (docs/format.md, "Pruned history"). */
export interface PrunedEntry {
  epoch: number;
  /** Seq of the prune event that dropped it. */
  seq: number;
  /** ISO-8601 time of that prune event. */
  time: string;
}

export interface KeyframeEntry {
  seq: number;
  epoch: number;
  addr: string;
}

export function jsonValue(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

export function parseValue<T>(b: Buffer): T {
  return JSON.parse(b.toString('utf8')) as T;
}

/** What the index says of one disk's writes so far. */
export interface DiskStats {
  disk: string;
  size: number;
  /** Bytes per block (absent in journals written before disks had their own block size: the page size). */
  blockSize?: number;
  /** Disk-write events. */
  writes: number;
  /** Blocks written or zeroed. */
  blocks: number;
  lastSeq: number;
}
