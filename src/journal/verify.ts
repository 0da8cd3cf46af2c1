import { ErrorCodes, isTtjError, TtjError, toTtjError, type ErrorCode } from '../errors.js';
import { ZERO_ADDR } from '../util/hash.js';
import { buf } from './codec.js';
import { splitAddrs } from './chunks.js';
import { epochKey, frameKey, parseValue, type EpochEntry, type FrameEntry } from './index-keys.js';
import type { Journal } from './journal.js';
import { Replayer } from './replayer.js';
import { VmState } from './vm-state.js';

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** Also read back and re-hash every stored blob. Default false. */
  deep?: boolean;
  /** Progress: events (then blobs, with --deep) checked. */
  onProgress?: (phase: 'events' | 'blobs', done: number, total: number) => void;
}

/** The result of {@link verify}; `ok` only when everything holds. */
export interface VerifyReport {
  ok: boolean;
  deep: boolean;
  events: number;
  epochs: number;
  frames: number;
  keyframes: number;
  blobsReferenced: number;
  blobsChecked: number;
  bytesChecked: number;
  /** The first problem found. */
  error?: { code: ErrorCode; message: string; seq?: number };
}

/**
 * Checks the whole journal: gapless sequence numbers, the hash chain, every
 * epoch's state root (replaying from the start), every keyframe against the
 * state it stands for, the index against the events, and that every blob named
 * is stored; with `deep`, re-reads and re-hashes every stored blob.
 * Never throws for a damaged journal: the report says what is wrong.
 */
export async function verify(j: Journal, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { ok: false, deep: !!opts.deep, events: 0, epochs: 0, frames: 0, keyframes: 0, blobsReferenced: 0, blobsChecked: 0, bytesChecked: 0 };
  try {
    await checkEvents(j, report, opts);
    if (opts.deep) await checkBlobs(j, report, opts);
    report.ok = true;
  } catch (e) {
    const err = isTtjError(e) ? e : toTtjError(e);
    report.error = { code: err.code, message: err.message, seq: err.seq };
  }
  return report;
}

async function checkEvents(j: Journal, report: VerifyReport, opts: VerifyOptions): Promise<void> {
  const head = await j.store.head();
  if (!head) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, 'the journal has no events');
  const r = new Replayer(new VmState(j.pageSize), ZERO_ADDR, 0);
  let pendingAddrs: Buffer[] = [];
  const flushAddrs = async () => {
    if (!pendingAddrs.length) return;
    const has = await j.store.hasBlobs(pendingAddrs);
    const i = has.indexOf(false);
    if (i >= 0) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${pendingAddrs[i]!.toString('hex')} is named but not stored`, { addr: pendingAddrs[i]!.toString('hex') });
    report.blobsReferenced += pendingAddrs.length;
    pendingAddrs = [];
  };
  let lastBatchSeq = -1;
  for await (const batch of j.store.readEventBatches(0, head.seq + 1)) {
    for (const { seq, bytes } of batch) {
      const ev = r.feed(seq, bytes);
      lastBatchSeq = seq;
      switch (ev.body) {
        case 'pages':
          pendingAddrs.push(...splitAddrs(buf(ev.pages!.addrs)));
          break;
        case 'diskWrite':
          pendingAddrs.push(...splitAddrs(buf(ev.diskWrite!.addrs)));
          break;
        case 'device':
          pendingAddrs.push(...splitAddrs(buf(ev.device!.chunkAddrs)));
          break;
        case 'frame': {
          pendingAddrs.push(...splitAddrs(buf(ev.frame!.chunkAddrs)));
          const f = Number(ev.frame!.frame);
          if (f !== report.frames) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} is frame ${f}, expected ${report.frames}`, { seq });
          const v = await j.store.indexGet(frameKey(f));
          const entry = v && parseValue<FrameEntry>(v);
          if (!entry || entry.seq !== seq) throw new TtjError(ErrorCodes.CORRUPT_STORE, `the index entry of frame ${f} does not point at event ${seq}`, { seq });
          report.frames++;
          break;
        }
        case 'epochCommit': {
          const c = ev.epochCommit!;
          const n = Number(c.epoch);
          if (n !== report.epochs) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} commits epoch ${n}, expected ${report.epochs}`, { seq });
          const v = await j.store.indexGet(epochKey(n));
          const entry = v && parseValue<EpochEntry>(v);
          if (!entry || entry.seq !== seq || entry.stateRoot !== buf(c.stateRoot).toString('hex')) {
            throw new TtjError(ErrorCodes.CORRUPT_STORE, `the index entry of epoch ${n} does not match event ${seq}`, { seq });
          }
          const kf = buf(c.keyframe);
          if (kf.length) {
            const s = await VmState.fromKeyframe(j.store, kf);
            if (!s.root().equals(buf(c.stateRoot))) {
              throw new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, `the keyframe of epoch ${n} does not match its state root`, { seq });
            }
            report.keyframes++;
          }
          report.epochs++;
          break;
        }
        default:
          break;
      }
      if (pendingAddrs.length >= 8192) await flushAddrs();
    }
    report.events = lastBatchSeq + 1;
    opts.onProgress?.('events', report.events, head.seq + 1);
  }
  await flushAddrs();
  if (report.events !== head.seq + 1) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `the stream ends at ${report.events - 1} but the head is ${head.seq}`, { seq: report.events });
  if (!r.lastHash.equals(head.hash)) {
    throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${head.seq} does not match the head hash: the hash chain is broken`, { seq: head.seq });
  }
}

async function checkBlobs(j: Journal, report: VerifyReport, opts: VerifyOptions): Promise<void> {
  const total = (await j.store.stats()).blobs;
  let batch: Buffer[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const data = await j.store.getBlobs(batch); // re-hashes each one
    report.blobsChecked += data.length;
    report.bytesChecked += data.reduce((a, b) => a + b.length, 0);
    opts.onProgress?.('blobs', report.blobsChecked, total);
    batch = [];
  };
  for await (const addr of j.store.listBlobs()) {
    batch.push(addr);
    if (batch.length >= 4096) await flush();
  }
  await flush();
}
