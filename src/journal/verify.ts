import { ErrorCodes, isTtjError, TtjError, toTtjError, withContext, type ErrorCode } from '../errors.js';
import { ZERO_ADDR } from '../util/hash.js';
import { blobNeeds, checkSizes, checkTails, chunkedContent, type BlobNeed, type ChunkedContent } from './blob-needs.js';
import { buf, type Event } from './codec.js';
import { CustodyCheck, type CustodyReport } from './custody-check.js';
import { readChunked } from './read-chunked.js';
import { IndexBuilder } from './index-builder.js';
import { LabelCheck } from './label-check.js';
import { splitAddrs } from './chunks.js';
import { keptBlobs } from './prune-plan.js';
import { decodePool } from '../store/block-decode.js';
import { parseValue } from './index-keys.js';
import type { Journal } from './journal.js';
import { Replayer } from './replayer.js';
import type { TrustedKey } from './signing-key.js';
import { VmState } from './vm-state.js';

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** Also read back and re-hash every stored blob. Default false. */
  deep?: boolean;
  /** Every event must be covered by a signature of this key (`--trust`; {@link loadTrustedKey} reads one). */
  trust?: TrustedKey;
  /** A head hash published earlier (hex, `ttj log --json` head.hash): the journal must hold that event (`--head`). */
  head?: string;
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
  /** The prunes made (docs/format.md, "Pruned history"): each prune event's seq, time and the epochs it dropped. Absent: never pruned. */
  pruned?: { seq: number; time: string; epochs: number[] }[];
  /** With `trust` or `head`: what the chain-of-custody checks proved. */
  custody?: CustodyReport;
  /** The first problem found, with its details (docs/cli.md, "Error details"). */
  error?: { code: ErrorCode; message: string; seq?: number; details?: Record<string, unknown> };
}

/**
 * Checks the whole journal: gapless sequence numbers, the hash chain, every
 * epoch's state root (replaying from the start), every keyframe against the
 * state it stands for, the index against the events, and that every blob named
 * is stored (in a pruned journal, every blob a kept point needs: docs/format.md, "Pruned
 * history"); with `deep`, re-reads and re-hashes every stored blob.
 * Never throws for a damaged journal: the report says what is wrong.
 */
export async function verify(j: Journal, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { ok: false, deep: !!opts.deep, events: 0, epochs: 0, frames: 0, keyframes: 0, blobsReferenced: 0, blobsChecked: 0, bytesChecked: 0 };
  try {
    const custody = new CustodyCheck(opts.trust, opts.head);
    if (custody.active) report.custody = custody.report;
    // The blobs are re-read (in the worker pool) while the events are checked (on this
    // thread); a problem in the events is reported first, as when they ran one after the other.
    const blobs = opts.deep ? checkBlobs(j, report, opts) : undefined;
    blobs?.catch(() => undefined);
    await settleBoth(checkEvents(j, report, opts, custody), blobs);
    report.ok = true;
  } catch (e) {
    report.error = verifyError(e);
  }
  return report;
}

/** A failure as a report's `error`: its code, message, seq and details. */
export function verifyError(e: unknown): NonNullable<VerifyReport['error']> {
  const err = isTtjError(e) ? e : toTtjError(e);
  const details = Object.keys(err.details).length ? (err.details as Record<string, unknown>) : undefined;
  return { code: err.code, message: err.message, seq: err.seq, details };
}

/** Waits for both; throws `first`'s error if it failed, else `second`'s. */
async function settleBoth(first: Promise<void>, second: Promise<void> | undefined): Promise<void> {
  try {
    await first;
  } catch (e) {
    await second?.catch(() => undefined);
    throw e;
  }
  await second;
}

async function checkEvents(j: Journal, report: VerifyReport, opts: VerifyOptions, custody: CustodyCheck): Promise<void> {
  const head = await j.storeHead();
  if (!head) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, 'the journal has no events');
  // A pruned journal: only the blobs kept points need must be stored (the prune entries
  // this relies on are then checked against the events with the rest of the index).
  const checks = new EventChecks(j, report, custody, await keptOfPruned(j), !!opts.deep);
  await checks.extend(head.seq, (done) => opts.onProgress?.('events', done, head.seq + 1));
  report.blobsReferenced = await checks.flushBlobs();
  checks.anchored(head);
  custody.finish(head.seq);
  await checkIndex(j, checks.index, head.seq);
}

/**
 * The checks of each event, in stream order, from seq 0, resumable: {@link extend} goes on
 * from where the last call ended (what `verify` does in one go, and `ttj ui` as the
 * journal grows). Sequence numbers and the hash chain, every epoch's state root
 * (replaying), keyframes, numbering, labels (each names an epoch it may), the custody checks, that every blob named is stored
 * (and, `deep`, device state and frames hash to their content hash); the index entries
 * the events give are gathered in {@link index}. After a failure it must not be extended.
 */
export class EventChecks {
  private readonly r: Replayer;
  private readonly needs: BlobChecks;
  private readonly labels = new LabelCheck();
  /** The index entries the events checked give (compared by {@link checkIndex}). */
  readonly index: IndexBuilder;

  constructor(
    private readonly j: Journal,
    readonly report: VerifyReport,
    private readonly custody: CustodyCheck,
    private readonly kept: ((addr: Buffer) => boolean) | undefined,
    private readonly deep: boolean,
  ) {
    this.r = new Replayer(new VmState(j.pageSize), ZERO_ADDR, 0);
    this.index = new IndexBuilder(j.pageSize);
    this.needs = new BlobChecks(j, kept);
  }

  /** The seq of the last event whose own checks passed (its blobs may still be unchecked: {@link flushBlobs}); -1: none. */
  fedSeq = -1;

  /**
   * Checks the events after {@link lastSeq} up to `toSeq`, one stored batch at a time;
   * `onBatch(events)` after each (the events checked so far). With `flushEach`, the blobs
   * each batch names are checked before it counts as checked (else in bulk, by {@link flushBlobs}).
   * @throws TtjError the first problem found.
   */
  async extend(toSeq: number, onBatch?: (events: number) => void, flushEach = false): Promise<void> {
    const { j, r, report } = this;
    for await (const batch of j.storedEvents(this.report.events, toSeq + 1)) {
      for (const { seq, bytes } of batch) {
        const ev = r.feed(seq, bytes);
        this.index.feed(seq, ev);
        checkNumbering(ev, seq, report);
        this.labels.feed(seq, ev);
        if (this.custody.active) this.custody.feed(seq, ev, bytes, r.lastHash);
        if (ev.body === 'prune') (report.pruned ??= []).push({ seq, time: new Date(Number(ev.timeUs) / 1000).toISOString(), epochs: (ev.prune!.epochs ?? []).map(Number) });
        if (ev.body === 'epochCommit') {
          const kf = buf(ev.epochCommit!.keyframe);
          if (kf.length) {
            const s = await VmState.fromKeyframe((a: Buffer[]) => j.blobs(a), kf);
            if (!s.root().equals(buf(ev.epochCommit!.stateRoot))) {
              throw new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, `the keyframe of epoch ${Number(ev.epochCommit!.epoch)} does not match its state root`, { seq });
            }
            report.keyframes++;
          }
        }
        await this.needs.add(blobNeeds(ev, r.state, seq), seq);
        const content = this.deep ? chunkedContent(ev, seq) : undefined;
        if (content && (!this.kept || splitAddrs(content.chunkAddrs).every(this.kept))) await checkContent(j, content, seq);
        this.fedSeq = seq;
      }
      if (flushEach) report.blobsReferenced = await this.needs.flush();
      report.events = batch[batch.length - 1]!.seq + 1;
      onBatch?.(report.events);
    }
  }

  /** Checks the blobs named and not checked yet; returns how many were checked in all. */
  flushBlobs(): Promise<number> {
    return this.needs.flush();
  }

  /**
   * The events checked end at `head` and hash to it (the store's head anchors the chain).
   * @throws TtjError CORRUPT_EVENT.
   */
  anchored(head: { seq: number; hash: Buffer }): void {
    if (this.report.events !== head.seq + 1) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `the stream ends at ${this.report.events - 1} but the head is ${head.seq}`, { seq: this.report.events });
    if (!this.r.lastHash.equals(head.hash)) {
      throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${head.seq} does not match the head hash: the hash chain is broken`, { seq: head.seq });
    }
  }
}

/** For a pruned journal, the test of the blobs its kept points need; undefined for one never pruned. */
export async function keptOfPruned(j: Journal): Promise<((addr: Buffer) => boolean) | undefined> {
  const pruned = new Set<number>();
  for await (const p of j.prunedEpochs()) pruned.add(p.epoch);
  if (!pruned.size) return undefined;
  const last = await j.lastEpoch();
  return keptBlobs(
    j,
    Array.from({ length: (last?.epoch ?? -1) + 1 }, (_, n) => !pruned.has(n)),
  );
}

/** Epochs and frames are numbered from 0 without gaps. */
function checkNumbering(ev: Event, seq: number, report: VerifyReport): void {
  if (ev.body === 'frame') {
    const f = Number(ev.frame!.frame);
    if (f !== report.frames) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} is frame ${f}, expected ${report.frames}`, { seq });
    report.frames++;
  } else if (ev.body === 'epochCommit') {
    const n = Number(ev.epochCommit!.epoch);
    if (n !== report.epochs) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${seq} commits epoch ${n}, expected ${report.epochs}`, { seq });
    report.epochs++;
  }
}

/** Named blobs, checked in batches: each must be stored, with the size its role asks (what a fold checks). */
class BlobChecks {
  private needs: BlobNeed[] = [];
  private seqs: number[] = [];
  private checked = 0;

  /** @param kept for a pruned journal: the blobs that must be stored (others may be gone). */
  constructor(
    private readonly j: Journal,
    private readonly kept?: (addr: Buffer) => boolean,
  ) {}

  async add(needs: BlobNeed[], seq: number): Promise<void> {
    for (const n of needs) {
      if (this.kept && !this.kept(n.addr)) continue;
      this.needs.push(n);
      this.seqs.push(seq);
    }
    if (this.needs.length >= 8192) await this.flush();
  }

  /** Checks what is pending; returns how many were checked in all. */
  async flush(): Promise<number> {
    if (this.needs.length) {
      const seqs = this.seqs;
      checkSizes(this.needs, await this.j.blobSizes(this.needs.map((n) => n.addr)), { missing: ErrorCodes.CORRUPT_BLOB, size: ErrorCodes.CORRUPT_BLOB }, (i) => seqs[i]);
      await checkTails(
        this.needs,
        (addrs) => this.j.blobs(addrs),
        ErrorCodes.CORRUPT_BLOB,
        (i) => seqs[i],
      );
      this.checked += this.needs.length;
      this.needs = [];
      this.seqs = [];
    }
    return this.checked;
  }
}

/** Device state and frames must hash to their content hash as a whole (a fold writes them whole). */
async function checkContent(j: Journal, c: ChunkedContent, seq: number): Promise<void> {
  try {
    await readChunked(j, c.chunkAddrs, c.contentHash, c.what);
  } catch (e) {
    throw isTtjError(e) ? withContext(e, `event ${seq}: ${e.message}`, { seq }) : e;
  }
}

/** Index entry fields that record costs, not facts of the events (a repair cannot recount them). */
const COST_FIELDS = new Set(['newBytes', 'storedBytes']);

/**
 * The secondary index must say exactly what the events say (up to the verified head:
 * entries a live writer added since are left alone): every entry derived from the
 * events is there with the same facts, and there is no other.
 * @throws TtjError CORRUPT_STORE naming the first entry that differs.
 */
export async function checkIndex(j: Journal, ix: IndexBuilder, headSeq: number): Promise<void> {
  const expected = new Map(ix.index().map((e) => [e.key, parseValue<Record<string, unknown>>(e.value)]));
  const bad = (key: string, what: string) => new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: entry ${key} ${what} (ttj repair rebuilds it from the events)`, { key });
  // Entries newer than the verified head are a live writer's, unless the head did not move.
  const newer: string[] = [];
  for await (const [key, value] of j.indexEntries()) {
    let actual: Record<string, unknown>;
    try {
      actual = parseValue<Record<string, unknown>>(value);
    } catch {
      throw bad(key, 'does not parse');
    }
    const want = expected.get(key);
    expected.delete(key);
    if (newerThan(actual, headSeq)) {
      newer.push(key);
      continue;
    }
    if (!want) throw bad(key, 'names nothing in the events');
    for (const [field, v] of Object.entries(want)) {
      if (COST_FIELDS.has(field) || (actual[field] === undefined && OPTIONAL_FIELDS.has(field))) continue;
      if (JSON.stringify(actual[field]) !== JSON.stringify(v)) throw bad(key, `says ${field} ${JSON.stringify(actual[field])}, the events say ${JSON.stringify(v)}`);
    }
  }
  const [missing] = expected.keys();
  if (missing !== undefined) throw bad(missing, 'is missing');
  if (newer.length && (await j.storeHead())?.seq === headSeq) throw bad(newer[0]!, `names an event beyond the head ${headSeq}`);
}

/**
 * Fields absent from entries written by earlier versions (disk statistics before disks had their own block size),
 * or by a writer that did not sign an epoch a later signed batch covers (its `signer`).
 */
const OPTIONAL_FIELDS = new Set(['blockSize', 'signer']);

/** True for an entry a live writer added (or updated) after the head that was verified. */
function newerThan(entry: Record<string, unknown>, headSeq: number): boolean {
  const seq = typeof entry.seq === 'number' ? entry.seq : typeof entry.lastSeq === 'number' ? entry.lastSeq : -1;
  return seq > headSeq;
}

/** More blobs than this are read back in bulk (the worker pool). */
const BULK_BLOBS = 8192;

async function checkBlobs(j: Journal, report: VerifyReport, opts: VerifyOptions): Promise<void> {
  const total = (await j.storeStats()).blobs;
  // Workers start loading while the blobs are listed (a small journal is read on this thread).
  if (total > BULK_BLOBS) decodePool()?.warm();
  let next = 4096;
  // Re-hashes each one against its address (decompressed and hashed in the worker pool).
  await j.readAllBlobs((_, data) => {
    report.blobsChecked++;
    report.bytesChecked += data.length;
    if (report.blobsChecked >= next) {
      opts.onProgress?.('blobs', report.blobsChecked, total);
      next += 4096;
    }
  });
  opts.onProgress?.('blobs', report.blobsChecked, total);
}
