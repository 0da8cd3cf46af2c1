import { ZERO_ADDR } from '../util/hash.js';
import { buf } from './codec.js';
import { foldState } from './fold.js';
import type { Journal } from './journal.js';
import { resolvePoint } from './point.js';
import { forEachEntry } from './prune-plan.js';
import { readChunked } from './read-chunked.js';
import { splitAddrs } from './chunks.js';
import { verifyError, type VerifyReport } from './verify.js';

/** Blobs read back per step (each step reports progress). */
const STEP = 2048;

/** What {@link verifyPointDeep} found. */
export interface PointDeepReport {
  ok: boolean;
  point: string;
  /** The last event the point needs (a frame point: its frame's event). */
  seq: number;
  epoch: number;
  frame?: number;
  /** Distinct blobs the point needs (memory pages, disk blocks, device chunks, its frame's chunks). */
  blobs: number;
  /** Of them, read back and re-hashed so far. */
  blobsChecked: number;
  bytesChecked: number;
  /** The first problem found. */
  error?: VerifyReport['error'];
}

/**
 * The deep check of one point: folds its state (from the nearest keyframe, re-hashing the
 * keyframe's blobs, replaying and checking every state root on the way), then re-reads and
 * re-hashes every blob that state needs (each memory page, disk block and device chunk, and
 * the point's frame), and checks the device state and the frame against their content
 * hashes. What `verify --deep` proves of the blobs, for this point only.
 * Damage is reported, not thrown; `onProgress(done, total)` after each step of blobs.
 * @throws TtjError BAD_POINT, POINT_NOT_FOUND, NO_EPOCH (a point that is not in the journal).
 */
export async function verifyPointDeep(j: Journal, at: string, opts: { onProgress?: (done: number, total: number) => void } = {}): Promise<PointDeepReport> {
  const p = await resolvePoint(j, at);
  const r: PointDeepReport = { ok: false, point: at, seq: Math.max(p.seq, p.frame?.seq ?? -1), epoch: p.epoch, frame: p.frame?.frame, blobs: 0, blobsChecked: 0, bytesChecked: 0 };
  try {
    const { state } = await foldState(j, at);
    const addrs = new Map<string, Buffer>();
    const add = (a: Buffer) => {
      if (!a.equals(ZERO_ADDR)) addrs.set(a.toString('latin1'), a);
    };
    await forEachEntry(state, add);
    const frame = p.frame ? (await j.event(p.frame.seq)).frame : undefined;
    if (frame) splitAddrs(buf(frame.chunkAddrs)).forEach(add);
    const all = [...addrs.values()];
    r.blobs = all.length;
    opts.onProgress?.(0, all.length);
    for (let i = 0; i < all.length; i += STEP) {
      await j.readBlobs(all.slice(i, i + STEP), (_, data) => {
        r.blobsChecked++;
        r.bytesChecked += data.length;
      });
      opts.onProgress?.(r.blobsChecked, all.length);
    }
    if (state.device) await readChunked(j, state.device.chunkAddrs, state.device.contentHash, `the device state of epoch ${p.epoch}`);
    if (frame) await readChunked(j, buf(frame.chunkAddrs), buf(frame.contentHash), `frame ${p.frame!.frame}`);
    r.ok = true;
  } catch (e) {
    r.error = verifyError(e);
  }
  return r;
}
