import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { audioInRange, wavBytes, type AudioClip } from './audio.js';
import { readChunked } from './read-chunked.js';
import { buf } from './codec.js';
import { FoldOutput } from './fold-output.js';
import { decodePool } from '../store/block-decode.js';
import type { Journal } from './journal.js';
import type { PageTable } from './page-table.js';
import { resolvePoint, type ResolvedPoint } from './point.js';
import { refusePruned } from './pruned-point.js';
import { stateAt, type StateAt } from './state-at.js';
import type { VmState } from './vm-state.js';

/** Pages located and written per step of a fold (256 MiB of 4 KiB pages). */
const FOLD_CHUNK_PAGES = 65536;

/** Folds of more bytes than this read their blocks in bulk (the worker pool). */
const BULK_FOLD_BYTES = 32 * 1024 * 1024;

/** Options of {@link fold}. */
export interface FoldOptions {
  /** The POINT to fold at. */
  at: string;
  /** Output directory (created, with its parents). */
  out: string;
  /** Progress in bytes written. */
  onProgress?: (done: number, total: number) => void;
}

/** manifest.json: what was folded, and the hashes that prove it. */
export interface FoldManifest {
  point: string;
  seq: number;
  epoch: number;
  epochSeq: number;
  frame?: number;
  time?: string;
  label?: string;
  stateRoot?: string;
  keyframeSeq: number;
  replayedEvents: number;
  memory?: { file: string; size: number; root: string; nonZeroPages: number };
  disks: { name: string; file: string; size: number; root: string }[];
  device?: { file: string; size: number; sha256: string };
  frameImage?: { file: string; width: number; height: number; size: number; sha256: string };
  /** The sound of the epoch interval before the folded epoch's capture (see {@link epochAudio}), when any was recorded. */
  audio?: { file: string; sampleRate: number; channels: number; format: string; samples: number; seconds: number; size: number; sha256: string };
}

/**
 * Folds the journal at a POINT into `out`: memory.raw, disks/NAME.raw, device.bin,
 * frame.png (for frame points), audio.wav (the sound of the epoch interval that ended
 * in the folded epoch, when recorded: {@link epochAudio}) and manifest.json, files 0600 in directories created
 * 0700 (see {@link FoldOutput}: the outputs of an earlier fold into `out` that this
 * one does not write are removed). Every blob is checked against its address and
 * every state root met on the way; on any error nothing of this fold is left in `out`.
 * @throws TtjError BAD_ARGUMENT (an empty `out`), BAD_POINT, POINT_NOT_FOUND, NO_EPOCH, CORRUPT_EVENT, CORRUPT_BLOB, STATE_ROOT_MISMATCH.
 */
export async function fold(j: Journal, opts: FoldOptions): Promise<FoldManifest> {
  const { point: rp, at } = await pointState(j, opts.at);
  const st = at.state;
  if (rp.epoch < 0 && st.disks.size === 0) throw new TtjError(ErrorCodes.NO_EPOCH, `nothing to fold at ${opts.at}: no epoch is committed there`, { point: opts.at });
  const total = st.memorySize + [...st.disks.values()].reduce((a, d) => a + d.size, 0);
  // Workers that decompress and hash the blocks start loading while the first pages are located.
  if (total >= BULK_FOLD_BYTES) decodePool()?.warm();
  let out: FoldOutput | undefined;
  try {
    out = await FoldOutput.create(opts.out);
    let written = 0;
    const progress = (n: number) => {
      written += n;
      opts.onProgress?.(written, total);
    };
    const m: FoldManifest = {
      point: rp.point,
      seq: rp.seq,
      epoch: rp.epoch,
      epochSeq: rp.epochSeq,
      frame: rp.frame?.frame,
      time: at.epoch ? new Date(at.epoch.timeUs / 1000).toISOString() : undefined,
      label: rp.label,
      stateRoot: at.epoch?.stateRoot.toString('hex'),
      keyframeSeq: at.keyframeSeq,
      replayedEvents: at.replayed,
      disks: [],
    };
    if (st.memory) {
      await writeTable(j, st.memory, st.pageSize, st.memorySize, await out.open('memory.raw'), progress);
      m.memory = { file: 'memory.raw', size: st.memorySize, root: st.memory.root().toString('hex'), nonZeroPages: st.memory.nonZero() };
    }
    for (const [name, d] of [...st.disks].sort(([a], [b]) => a.localeCompare(b))) {
      const file = `disks/${name}.raw`;
      await writeTable(j, d.table, d.blockSize, d.size, await out.open(file), progress);
      m.disks.push({ name, file, size: d.size, root: d.table.root().toString('hex') });
    }
    if (st.device) {
      const data = await readChunked(j, st.device.chunkAddrs, st.device.contentHash, 'device state');
      await out.writeFile('device.bin', data);
      m.device = { file: 'device.bin', size: data.length, sha256: st.device.contentHash.toString('hex') };
    }
    if (rp.frame) {
      const ev = await j.event(rp.frame.seq);
      const f = ev.frame!;
      const data = await readChunked(j, buf(f.chunkAddrs), buf(f.contentHash), `frame ${rp.frame.frame}`);
      await out.writeFile('frame.png', data);
      m.frameImage = { file: 'frame.png', width: f.width ?? 0, height: f.height ?? 0, size: data.length, sha256: buf(f.contentHash).toString('hex') };
    }
    const clip = await epochAudio(j, rp.epoch);
    if (clip) {
      const data = wavBytes(clip);
      await out.writeFile('audio.wav', data);
      const { sampleRate, channels, format, samples } = clip;
      m.audio = { file: 'audio.wav', sampleRate, channels, format, samples, seconds: samples / sampleRate, size: data.length, sha256: sha256(data).toString('hex') };
    }
    await out.writeFile('manifest.json', JSON.stringify(m, null, 2) + '\n');
    await out.commit();
    return m;
  } catch (e) {
    await out?.abort();
    throw toTtjError(e, { path: opts.out });
  }
}

/**
 * Writes a table's content (memory or disk) into `fh` (closed here): exactly `size`
 * bytes (a disk's short last block is cut at the disk's end). The non-zero pages are
 * written where they belong straight from their decoded blocks, by the threads that
 * decode and check them, a chunk of pages at a time (each block is read once per chunk
 * it has pages in); zero pages are never written: the new file's holes read as zeros.
 */
async function writeTable(j: Journal, table: PageTable, pageSize: number, size: number, fh: FileHandle, progress: (n: number) => void): Promise<void> {
  // Chunks of 256 MiB whatever the page or block size: only their locations are held.
  const per = Math.max(1, Math.floor((FOLD_CHUNK_PAGES * 4096) / pageSize));
  try {
    for (let first = 0; first < table.count; first += per) {
      const n = Math.min(per, table.count - first);
      const at: number[] = [];
      const addrs: Buffer[] = [];
      for (let i = first; i < first + n; i++) {
        if (table.isZero(i)) continue;
        at.push(i * pageSize);
        addrs.push(table.get(i));
      }
      if (addrs.length) await j.readBlobsInto(addrs, { fd: fh.fd }, at, { verify: true, size: pageSize });
      progress(Math.min(n * pageSize, size - first * pageSize));
    }
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

/**
 * The sound the guest played in the epoch interval that ended at epoch `epoch`'s capture:
 * the audio events after epoch `epoch - 1`'s commit (from the start for epoch 0) and
 * before epoch `epoch`'s first event. Undefined when there is none.
 */
async function epochAudio(j: Journal, epoch: number): Promise<AudioClip | undefined> {
  const e = epoch >= 0 ? await j.epoch(epoch) : undefined;
  if (!e) return undefined;
  const before = epoch > 0 ? await j.epoch(epoch - 1) : undefined;
  return audioInRange(j, before ? before.seq + 1 : 0, e.beginSeq);
}

/** Folds only the state (content addresses) at a point: no bytes written. */
export async function foldState(j: Journal, at: string): Promise<{ point: ResolvedPoint; state: VmState }> {
  const { point, at: s } = await pointState(j, at);
  return { point, state: s.state };
}

/**
 * A point and the state there. The events replayed must reach the epoch the index
 * resolved the point to: a fold never writes another epoch's state under its name.
 * @throws TtjError CORRUPT_STORE when they do not, PRUNED for a point in pruned history (and what {@link resolvePoint} and {@link stateAt} throw).
 */
async function pointState(j: Journal, text: string): Promise<{ point: ResolvedPoint; at: StateAt }> {
  const point = await resolvePoint(j, text);
  await refusePruned(j, point);
  const at = await stateAt(j, point.seq);
  const folded = at.epoch ? at.epoch : { epoch: -1, seq: -1 };
  if (folded.epoch !== point.epoch || folded.seq !== point.epochSeq) {
    throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: it resolves ${text} to epoch ${point.epoch} (seq ${point.epochSeq}), the events to epoch ${folded.epoch} (seq ${folded.seq})`, {
      point: text,
      expected: folded.epoch,
      actual: point.epoch,
    });
  }
  return { point, at };
}
