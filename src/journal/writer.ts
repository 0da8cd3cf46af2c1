import { ErrorCodes, isTtjError, TtjError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { BlobPut, CompactResult, RemoveBlobsOptions, RemovedBlobs, StoredEvent } from '../store/store.js';

import { sha256 } from '../util/hash.js';
import { blobNeeds, checkSizes, checkTails, chunkedContent, type BlobNeed, type ChunkedContent } from './blob-needs.js';
import { checkAudioShape } from './audio-format.js';
import { buf, decodeEvent, encodeEvent, eventHash, type Event, type IEvent } from './codec.js';
import { splitAddrs } from './chunks.js';
import { encodeSigned } from './event-signature.js';
import { IndexBuilder } from './index-builder.js';
import { LABEL_REQUEST, labelEpoch, type LabelRequest } from './label.js';
import type { DiskStats, EpochEntry, FrameEntry } from './index-keys.js';
import { checkPageSize, DEFAULT_PAGE_SIZE, headerEvent, Journal, readHeader, type OpenJournalOptions } from './journal.js';
import type { SigningKey } from './signing-key.js';
import { stateAt } from './state-at.js';
import { prune, type PruneOptions } from './prune.js';
import type { VmState } from './vm-state.js';

/** A keyframe is written at least every this many epochs. */
export const KEYFRAME_MAX_EPOCHS = 64;
/** ...and as soon as the entries changed since the last one exceed this fraction of the state. */
const KEYFRAME_CHANGE_FRACTION = 0.25;

/** A given event time may be ahead of this machine's clock by at most this much (5 minutes). */
export const MAX_TIME_AHEAD_US = 5 * 60 * 1_000_000;

/** The writer's numbering and keyframe counters, as its last commit left them. */
interface StreamPosition {
  /** Time of the newest event (µs). */
  lastTimeUs: number;
  nextEpoch: number;
  nextFrame: number;
  /** Newest committed epoch, or -1. */
  lastCommitted: number;
  epochsSinceKeyframe: number;
  /** Page and block entries changed since the last keyframe. */
  changesSinceKeyframe: number;
}

/** The epoch a batch has begun and not yet committed, with what it changed so far. */
interface OpenEpoch {
  epoch: number;
  beginSeq: number;
  dirty: number;
  zero: number;
  disk: number;
}

/** A label event's body. */
type LabelBody = NonNullable<IEvent['label']>;

const badStream = (msg: string, seq?: number) => new TtjError(ErrorCodes.BAD_EVENT_STREAM, msg, { seq });
const isoUs = (us: number) => (Number.isFinite(us) && Math.abs(us) < 8.64e18 ? new Date(us / 1000).toISOString() : String(us));

/** Options of {@link JournalWriter.openWriter}. */
export interface OpenWriterOptions extends OpenJournalOptions {
  /**
   * For a new journal: its header event (event 0) as stored bytes, instead of a new one.
   * A replica (`push` to a new destination) starts with its source's header, so that
   * its chain is the source's.
   */
  header?: Uint8Array;
  /**
   * Sign the last event of every batch this writer appends (and a new journal's header)
   * with this key (docs/format.md, "Signatures"; {@link loadSigningKey} reads one).
   * Replicated events ({@link JournalWriter.appendReplicated}) keep their own signatures.
   */
  signWith?: SigningKey;
}

/** What one commit appended. */
export interface CommitResult {
  /** Seq of the first and last event appended. */
  firstSeq: number;
  lastSeq: number;
  /** Epochs committed by this batch. */
  epochs: EpochEntry[];
  /** Frames appended by this batch. */
  frames: FrameEntry[];
  newBlobs: number;
  newBytes: number;
  storedBytes: number;
}

/**
 * The one writer of a journal (a lock keeps others out). It keeps the head state
 * in memory, turns event bodies into chained events, computes every epoch's state
 * root, decides keyframes, and appends each batch atomically.
 */
export class JournalWriter extends Journal {
  private state!: VmState;
  private headSeq = -1;
  private headHash: Buffer = Buffer.alloc(32);
  /** Where the stream stands for numbering and keyframes; a failed commit puts back the copy it took. */
  private pos: StreamPosition = { lastTimeUs: 0, nextEpoch: 0, nextFrame: 0, lastCommitted: -1, epochsSinceKeyframe: 0, changesSinceKeyframe: 0 };
  /** True once the frame numbering was checked against the events ({@link confirmFrames}). */
  private framesConfirmed = false;
  private committing: Promise<unknown> = Promise.resolve();
  /** Running statistics of each disk (the `dw/` index entries), as the last commit left them. */
  private diskStatsOf = new Map<string, DiskStats>();
  /** The key that signs each batch's last event, if any. */
  private signer: SigningKey | undefined;

  /**
   * Opens `dir` for writing; with `create` (the default) a missing journal is created.
   * @throws TtjError LOCKED (another writer), NOT_A_JOURNAL, BAD_ARGUMENT (page size).
   */
  static async openWriter(dir: string, opts: OpenWriterOptions = {}): Promise<JournalWriter> {
    if (opts.pageSize !== undefined) checkPageSize(opts.pageSize);
    const store = await openStore(dir, { ...opts, write: true, create: opts.create ?? true });
    try {
      if (!(await store.head())) {
        const header = opts.header ?? headerEvent(opts.pageSize ?? DEFAULT_PAGE_SIZE);
        await store.append({ expectedHead: -1, events: [opts.header || !opts.signWith ? header : encodeSigned(decodeEvent(header, 0), opts.signWith)] });
      }
      const w = new JournalWriter(store, await readHeader(store));
      w.signer = opts.signWith;
      await w.load();
      // `ttj prune` in another process asks this writer to prune (docs/architecture.md, "Retention").
      await store.serveRequests?.((name, args) => w.runRequest(name, args));
      return w;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  private async load(): Promise<void> {
    const h = (await this.store.head())!;
    this.headSeq = h.seq;
    this.headHash = h.hash;
    const at = await stateAt(this, h.seq);
    this.state = at.state;
    const last = await this.lastEpoch();
    // The events (replayed up to the head) say which epoch is the last: an index that
    // lost or changed its last entries must not make this writer number epochs again.
    if ((last?.epoch ?? -1) !== (at.epoch?.epoch ?? -1) || (last?.seq ?? -1) !== (at.epoch?.seq ?? -1)) {
      throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: its last epoch entry is ${last?.epoch ?? 'missing'}, the events end with epoch ${at.epoch?.epoch ?? 'none'} (ttj repair rebuilds it)`, {
        expected: at.epoch?.epoch ?? -1,
        actual: last?.epoch ?? -1,
      });
    }
    const lastFrame = await this.lastFrame();
    this.pos.nextEpoch = last ? last.epoch + 1 : 0;
    this.pos.lastCommitted = last ? last.epoch : -1;
    this.pos.nextFrame = lastFrame ? lastFrame.frame + 1 : 0;
    const headEv = await this.event(h.seq);
    this.pos.lastTimeUs = Number(headEv.timeUs);
    const kf = await this.keyframeAtOrBefore(h.seq);
    this.pos.epochsSinceKeyframe = kf && last ? last.epoch - kf.epoch : 0;
    for (const d of await this.diskStats()) this.diskStatsOf.set(d.disk, d);
    this.pos.changesSinceKeyframe = at.replayed;
  }

  /**
   * Before this writer numbers its first frame: the last frame entry must name the last
   * frame event (no frame event after it), so that an index that lost its last frame
   * entries never makes a second frame N. Reads the events after that frame once.
   * @throws TtjError CORRUPT_STORE.
   */
  private async confirmFrames(): Promise<void> {
    const f = await this.lastFrame();
    const damaged = (why: string) => new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: ${why} (ttj repair rebuilds it)`, {});
    if (f) {
      const ev = f.seq <= this.headSeq ? await this.event(f.seq) : undefined;
      if (ev?.body !== 'frame' || Number(ev.frame!.frame) !== f.frame) throw damaged(`the entry of frame ${f.frame} does not name its event`);
    }
    for await (const batch of this.storedEvents(f ? f.seq + 1 : 0, this.headSeq + 1)) {
      for (const { seq, bytes } of batch) {
        if (decodeEvent(bytes, seq).body === 'frame') throw damaged(`event ${seq} is a frame after the last frame entry (${f ? f.frame : 'none'})`);
      }
    }
    this.framesConfirmed = true;
  }

  /** The head state (content addresses), read-only for callers. */
  get headState(): VmState {
    return this.state;
  }

  get headSeqNumber(): number {
    return this.headSeq;
  }

  /** The epoch the next EpochBegin must carry. */
  get nextEpochNumber(): number {
    return this.pos.nextEpoch;
  }

  get lastCommittedEpoch(): number {
    return this.pos.lastCommitted;
  }

  /**
   * Appends `bodies` as one atomic batch. Seq, time and the hash chain are filled
   * in; EpochCommit gets its state root, counts and keyframe; frames and labels get
   * their epoch. `blobs` must carry every blob the bodies name that the store lacks,
   * each under its SHA-256 (callers compute the addresses; they are not re-hashed here).
   * On any error nothing is appended and the writer's state is unchanged.
   * @throws TtjError BAD_EVENT_STREAM (structure), CORRUPT_EVENT (does not fit the state), CORRUPT_BLOB (missing blob).
   */
  commit(bodies: IEvent[], blobs: BlobPut[] = [], opts: { sync?: boolean } = {}): Promise<CommitResult> {
    // One commit at a time: each builds on the head the previous one left.
    const run = this.committing.then(() => this.commitNow(bodies, blobs, opts));
    this.committing = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends events already stamped by another journal's writer (a replica: `push`), as
   * one atomic batch, byte for byte. Each must continue this journal's chain (its seq
   * and `prev_hash`) and be exactly the event this writer would write for it: it goes
   * through the same checks as a {@link commit} (epoch structure, numbering, state roots,
   * blob sizes and content), and its bytes must equal what they give. Only the keyframe
   * decision is taken from the event (the keyframe itself is built here from the state,
   * so its blobs need not be sent). `blobs` must carry every blob the events name that
   * the store lacks, except those of history the batch's own prune events drop (a pruned
   * journal's, which may be gone: docs/format.md, "Pruned history"). The batch must end
   * outside an epoch. On any error nothing is appended and the writer's state is unchanged.
   * @throws TtjError BAD_EVENT_STREAM (does not continue the chain or is not what this journal derives), CORRUPT_BLOB (missing blob), STATE_ROOT_MISMATCH.
   */
  appendReplicated(events: StoredEvent[], blobs: BlobPut[] = [], opts: { sync?: boolean } = {}): Promise<CommitResult> {
    const run = this.committing.then(() => this.commitNow([], blobs, opts, events));
    this.committing = run.catch(() => undefined);
    return run;
  }

  private async commitNow(bodies: IEvent[], blobs: BlobPut[], opts: { sync?: boolean }, replicated?: StoredEvent[]): Promise<CommitResult> {
    const given = replicated?.map((e) => ({ seq: e.seq, bytes: e.bytes, event: decodeEvent(e.bytes, e.seq) }));
    const inputs: IEvent[] = given ? given.map((g) => g.event) : bodies;
    if (inputs.length === 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'nothing to append');
    if (!this.framesConfirmed && inputs.some((b) => b.frame)) await this.confirmFrames();
    await this.refuseChosenPruned(inputs);
    const tx = this.state.begin();
    const saved = { ...this.pos };
    try {
      const result = await this.build(inputs, blobs, opts.sync ?? true, given);
      tx.commit();
      return result;
    } catch (e) {
      tx.rollback();
      this.pos = saved;
      throw e;
    }
  }

  /** Builds and appends one batch from `bodies`; with `given`, they are another journal's events that must come out byte for byte. */
  private async build(bodies: IEvent[], blobs: BlobPut[], sync: boolean, given?: Replicated[]): Promise<CommitResult> {
    const encoded: Uint8Array[] = [];
    const allBlobs = [...blobs];
    const needs: BlobNeed[] = [];
    const needSeqs: number[] = [];
    /** For each need: the epochs whose being dropped lets its blob be gone (a replicated pruned journal's). */
    const needEpochs: number[][] = [];
    const chunked: ChunkedContent[] = [];
    const chunkedEpochs: number[][] = [];
    /** The epochs the prune events of a replicated batch drop. */
    const dropped = new Set<number>();
    const ix = new IndexBuilder(this.pageSize, new Map([...this.diskStatsOf].map(([k, v]) => [k, { ...v }])), (n) => this.state.disks.get(n));
    let seq = this.headSeq;
    let prev = this.headHash;
    let open: OpenEpoch | undefined;
    for (const [i, input] of bodies.entries()) {
      seq++;
      const g = given?.[i];
      if (g) continuesChain(g, seq, prev);
      // A replicated event keeps its signature; the signature of any other body is this writer's to make.
      const { signature: _s, signer: _k, ...unsigned } = input;
      const body = g ? input : unsigned;
      const ev: IEvent = { ...body, seq, prevHash: prev, timeUs: this.stamp(body, seq, !!g) };
      open = this.shape(ev, seq, open, allBlobs, g && buf(g.event.epochCommit?.keyframe).length > 0);
      const bytes = !g && this.signer && i === bodies.length - 1 ? encodeSigned(ev, this.signer) : encodeEvent(ev);
      if (g && !g.bytes.equals(bytes)) {
        throw badStream(`event ${seq} is not the event this journal derives from it (its state root, counts, numbering or time differ)`, seq);
      }
      const decoded = g ? g.event : decodeEvent(bytes, seq);
      // Memory and device events take effect at their epoch's commit for readers;
      // the writer applies them at once, which gives the same state at the commit.
      if (decoded.body !== 'epochCommit') this.state.apply(decoded, seq);
      if (decoded.body === 'prune') for (const e of decoded.prune!.epochs ?? []) dropped.add(Number(e));
      const epochs = stretchEpochs(decoded, open, this.pos.nextEpoch);
      for (const n of blobNeeds(decoded, this.state, seq)) {
        needs.push(n);
        needSeqs.push(seq);
        needEpochs.push(epochs);
      }
      const c = chunkedContent(decoded, seq);
      if (c) {
        chunked.push(c);
        chunkedEpochs.push(epochs);
      }
      ix.feed(seq, decoded);
      encoded.push(bytes);
      prev = eventHash(bytes);
    }
    if (open) throw badStream(`epoch ${open.epoch} is not committed at the end of the batch`);
    if (given && dropped.size) {
      // A pruned journal replicated: the blobs of history its own prune events (in this batch) dropped may be gone.
      const gone = await this.goneWithDropped(needs, needEpochs, dropped, blobs);
      const keepNeed = (i: number) => !gone.has(needs[i]!.addr.toString('hex'));
      const keepChunked = (i: number) => !chunkedEpochs[i]!.some((e) => dropped.has(e)) || splitAddrs(chunked[i]!.chunkAddrs).every((a) => !gone.has(a.toString('hex')));
      const kept = needs.flatMap((_, i) => (keepNeed(i) ? [i] : []));
      const keptChunked = chunked.filter((_, i) => keepChunked(i));
      needs.splice(0, needs.length, ...kept.map((i) => needs[i]!));
      needSeqs.splice(0, needSeqs.length, ...kept.map((i) => needSeqs[i]!));
      chunked.splice(0, chunked.length, ...keptChunked);
    }
    await this.checkBlobs(needs, needSeqs, chunked, blobs);

    const givenKeys = new Set(allBlobs.map((b) => b.addr.toString('hex')));
    const relies = needs.filter((n) => !givenKeys.has(n.addr.toString('hex'))).map((n) => n.addr);
    const res = await this.store
      .append({
        sync,
        expectedHead: this.headSeq,
        events: encoded,
        blobs: allBlobs,
        relies,
        index: (written) => {
          // Cost of the batch goes on its (last) epoch.
          const last = ix.epochs[ix.epochs.length - 1];
          if (last) {
            last.newBytes = written.newBytes;
            last.storedBytes = written.storedBytes;
          }
          return ix.index();
        },
      })
      .catch((e: unknown) => {
        if (isTtjError(e)) throw e;
        throw new TtjError(ErrorCodes.INTERNAL, `append failed: ${(e as Error).message}`, {}, { cause: e });
      });
    this.diskStatsOf = ix.diskStats;
    const firstSeq = this.headSeq + 1;
    this.headSeq = res.head.seq;
    this.headHash = res.head.hash;
    return { firstSeq, lastSeq: res.head.seq, epochs: ix.epochs, frames: ix.frames, newBlobs: res.newBlobs, newBytes: res.newBytes, storedBytes: res.storedBytes };
  }

  /**
   * The time of event `seq`: the one it gives (never before the previous event's, never
   * far ahead of this machine's clock), else now (never before the previous event's).
   * @throws TtjError BAD_EVENT_STREAM.
   */
  private stamp(body: IEvent, seq: number, replicated = false): number {
    const now = Date.now() * 1000;
    const given = Number(body.timeUs ?? 0);
    if (given && given < this.pos.lastTimeUs) throw badStream(`event ${seq}: time goes backwards (${isoUs(given)} is before ${isoUs(this.pos.lastTimeUs)})`, seq);
    // A replicated event's time was checked against its own writer's clock, not this machine's.
    if (!replicated && given > now + MAX_TIME_AHEAD_US) {
      throw badStream(`event ${seq}: time ${isoUs(given)} is ahead of this machine's clock (${isoUs(now)}) by more than ${MAX_TIME_AHEAD_US / 60e6} minutes`, seq);
    }
    this.pos.lastTimeUs = given || Math.max(now, this.pos.lastTimeUs);
    return this.pos.lastTimeUs;
  }

  /**
   * A label may not name an epoch a prune dropped (its state is gone).
   * @throws TtjError PRUNED.
   */
  private async refuseChosenPruned(inputs: IEvent[]): Promise<void> {
    for (const { label } of inputs) {
      if (!label?.chosen) continue;
      const epoch = Number(label.epoch ?? 0);
      const dropped = await this.pruned(epoch);
      if (dropped) {
        throw new TtjError(ErrorCodes.PRUNED, `epoch ${epoch} was pruned at ${dropped.time} (event ${dropped.seq}); a pruned epoch cannot be labelled`, {
          point: `epoch:${epoch}`,
          epoch,
          seq: dropped.seq,
          time: dropped.time,
        });
      }
    }
  }

  /**
   * Checks one event against the epoch structure and fills in what the journal decides
   * (a frame's and a label's epoch, a commit's counts, state root and keyframe).
   * Returns the epoch left open after it. `keyframe` decides a commit's keyframe (a
   * replicated event's); undefined: the keyframe policy does.
   * @throws TtjError BAD_EVENT_STREAM, NO_EPOCH, STATE_ROOT_MISMATCH.
   */
  private shape(ev: IEvent, seq: number, open: OpenEpoch | undefined, blobs: BlobPut[], keyframe?: boolean): OpenEpoch | undefined {
    const kind = bodyKind(ev);
    switch (kind) {
      case 'header':
      case 'blob':
        throw badStream(`event ${seq}: a ${kind} event cannot be appended here`, seq);
      case 'fork':
        if (seq !== 1) throw badStream(`event ${seq}: a fork event must be the first event after the header`, seq);
        return open;
      case 'epochBegin': {
        if (open) throw badStream(`event ${seq}: epoch ${open.epoch} is still open`, seq);
        const n = Number(ev.epochBegin!.epoch ?? 0);
        if (n !== this.pos.nextEpoch) throw badStream(`event ${seq}: expected epoch ${this.pos.nextEpoch}, got ${n}`, seq);
        return { epoch: n, beginSeq: seq, dirty: 0, zero: 0, disk: 0 };
      }
      case 'memoryLayout':
      case 'device':
        if (!open) throw badStream(`event ${seq}: ${kind} outside an epoch`, seq);
        return open;
      case 'pages': {
        if (!open) throw badStream(`event ${seq}: pages outside an epoch`, seq);
        const n = (ev.pages!.pfns?.length ?? 0) + (ev.pages!.zeroPfns?.length ?? 0);
        open.dirty += n;
        open.zero += ev.pages!.zeroPfns?.length ?? 0;
        this.pos.changesSinceKeyframe += n;
        return open;
      }
      case 'diskWrite': {
        const n = (ev.diskWrite!.blocks?.length ?? 0) + (ev.diskWrite!.zeroBlocks?.length ?? 0);
        if (open) open.disk += n;
        this.pos.changesSinceKeyframe += n;
        return open;
      }
      case 'label':
        ev.label = this.bindLabel(ev.label!, seq, open);
        return open;
      case 'frame': {
        if (open) throw badStream(`event ${seq}: a frame inside epoch ${open.epoch}; frames follow the commit`, seq);
        if (this.pos.lastCommitted < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'a frame needs a committed epoch to bind to', { seq });
        const f = ev.frame!;
        const n = f.frame === undefined || f.frame === null ? this.pos.nextFrame : Number(f.frame);
        if (n !== this.pos.nextFrame) throw badStream(`event ${seq}: expected frame ${this.pos.nextFrame}, got ${n}`, seq);
        ev.frame = { ...f, frame: n, epoch: this.pos.lastCommitted };
        this.pos.nextFrame++;
        return open;
      }
      case 'prune':
        if (open) throw badStream(`event ${seq}: a prune inside epoch ${open.epoch}`, seq);
        this.checkPrune(ev, seq);
        return open;
      case 'audio': {
        if (open) throw badStream(`event ${seq}: audio inside epoch ${open.epoch}; audio follows the commit`, seq);
        if (this.pos.lastCommitted < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'audio needs a committed epoch to bind to', { seq });
        checkAudioShape(ev.audio!, seq);
        ev.audio = { ...ev.audio, epoch: this.pos.lastCommitted };
        return open;
      }
      case 'epochCommit':
        if (!open) throw badStream(`event ${seq}: commit without an open epoch`, seq);
        this.commitEpoch(ev, seq, open, blobs, keyframe);
        return undefined;
      default:
        return open;
    }
  }

  /**
   * The label as stored: bound to the open epoch, else the newest committed one; or, when
   * `chosen` (docs/format.md, "Labels"), to the committed epoch it names, between epochs
   * (that epoch was not pruned: {@link refuseChosenPruned} checked before the batch).
   * @throws TtjError BAD_EVENT_STREAM (empty text; a chosen epoch inside an epoch or not committed), NO_EPOCH.
   */
  private bindLabel(l: LabelBody, seq: number, open: OpenEpoch | undefined): LabelBody {
    const text = l.text ?? '';
    if (!text) throw badStream(`event ${seq}: empty label`, seq);
    if (!l.chosen) {
      const epoch = open ? open.epoch : this.pos.lastCommitted;
      if (epoch < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'there is no epoch to label yet', { seq });
      return { text, epoch };
    }
    if (open) throw badStream(`event ${seq}: a label of a chosen epoch inside epoch ${open.epoch}; it comes between epochs`, seq);
    const epoch = Number(l.epoch ?? 0);
    if (this.pos.lastCommitted < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'there is no epoch to label yet', { seq });
    if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > this.pos.lastCommitted) {
      throw badStream(`event ${seq}: a label may name a committed epoch (0 to ${this.pos.lastCommitted}), not ${String(l.epoch)}`, seq);
    }
    return { text, epoch, chosen: true };
  }

  /**
   * A prune record lists epochs committed before it, ascending, never the newest one (the
   * head's state is always kept).
   * @throws TtjError BAD_EVENT_STREAM.
   */
  private checkPrune(ev: IEvent, seq: number): void {
    const epochs = (ev.prune!.epochs ?? []).map(Number);
    if (!epochs.length) throw badStream(`event ${seq}: a prune that drops no epoch`, seq);
    epochs.forEach((e, i) => {
      if (!Number.isSafeInteger(e) || e < 0 || e >= this.pos.lastCommitted || (i > 0 && e <= epochs[i - 1]!)) {
        throw badStream(`event ${seq}: a prune may drop committed epochs before the newest (${this.pos.lastCommitted}), ascending; got ${e}`, seq);
      }
    });
  }

  /** Fills in an epoch's commit: its counts, its state root (a given one must match) and, when due, a keyframe. */
  private commitEpoch(ev: IEvent, seq: number, open: OpenEpoch, blobs: BlobPut[], given?: boolean): void {
    const c = ev.epochCommit!;
    if (Number(c.epoch ?? 0) !== open.epoch) throw badStream(`event ${seq}: commit of epoch ${Number(c.epoch)} but epoch ${open.epoch} is open`, seq);
    const root = this.state.root();
    const givenRoot = buf(c.stateRoot);
    if (givenRoot.length && !givenRoot.equals(root)) {
      throw new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, `event ${seq}: the given state root of epoch ${open.epoch} does not match the state`, {
        seq,
        expected: root.toString('hex'),
        actual: givenRoot.toString('hex'),
      });
    }
    let keyframe: Buffer | undefined;
    if (this.keyframeDue(given)) {
      const kf = this.state.toKeyframe();
      keyframe = kf.addr;
      blobs.push(...kf.blobs);
    }
    // The pause time is the capturer's measurement (not derived, not in the state root): kept as given.
    const pauseUs = pauseOf(c, seq);
    ev.epochCommit = { epoch: open.epoch, stateRoot: root, beginSeq: open.beginSeq, dirtyPages: open.dirty, zeroPages: open.zero, diskBlocks: open.disk, keyframe, ...(pauseUs === undefined ? {} : { pauseUs }) };
    this.pos.lastCommitted = open.epoch;
    this.pos.nextEpoch = open.epoch + 1;
  }

  /**
   * The keyframe policy: the first epoch, then every {@link KEYFRAME_MAX_EPOCHS} epochs or once
   * {@link KEYFRAME_CHANGE_FRACTION} of the state changed; `given` overrides it (a replicated commit's).
   */
  private keyframeDue(given?: boolean): boolean {
    this.pos.epochsSinceKeyframe++;
    const total = Math.max(1, this.state.entryCount());
    const due = given ?? (this.pos.lastCommitted < 0 || this.pos.epochsSinceKeyframe >= KEYFRAME_MAX_EPOCHS || this.pos.changesSinceKeyframe >= total * KEYFRAME_CHANGE_FRACTION);
    if (due) {
      this.pos.epochsSinceKeyframe = 0;
      this.pos.changesSinceKeyframe = 0;
    }
    return due;
  }

  /**
   * Every blob the batch names must be given with it or stored, and be of the size its
   * role asks; chunked content (device state, frames) must hash to its content hash.
   * @throws TtjError CORRUPT_BLOB (named but neither stored nor given), BAD_EVENT_STREAM (wrong size or content).
   */
  private async checkBlobs(needs: BlobNeed[], needSeqs: number[], chunked: ChunkedContent[], given: BlobPut[]): Promise<void> {
    const data = new Map<string, Buffer>();
    for (const b of given) data.set(b.addr.toString('hex'), b.data);
    const sizes = needs.map((n) => data.get(n.addr.toString('hex'))?.length);
    const unknown = sizes.flatMap((s, i) => (s === undefined ? [i] : []));
    if (unknown.length) {
      const stored = await this.store.blobSizes(unknown.map((i) => needs[i]!.addr));
      unknown.forEach((i, k) => (sizes[i] = stored[k]));
    }
    checkSizes(needs, sizes, { missing: ErrorCodes.CORRUPT_BLOB, size: ErrorCodes.BAD_EVENT_STREAM }, (i) => needSeqs[i]);
    const bytesOf = async (addrs: Buffer[]) => {
      const absent = addrs.filter((a) => !data.has(a.toString('hex')));
      const stored = absent.length ? await this.store.getBlobs(absent) : [];
      stored.forEach((b, i) => data.set(absent[i]!.toString('hex'), b));
      return addrs.map((a) => data.get(a.toString('hex'))!);
    };
    await checkTails(needs, bytesOf, ErrorCodes.BAD_EVENT_STREAM, (i) => needSeqs[i]);
    for (const c of chunked) {
      if (!sha256(...(await bytesOf(splitAddrs(c.chunkAddrs)))).equals(c.contentHash)) {
        throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, `${c.what} does not hash to its content hash`, { expected: c.contentHash.toString('hex') });
      }
    }
  }

  /**
   * The blobs (hex addresses) of a replicated batch that are neither given nor stored and
   * that only history `dropped` (by the batch's prune events) named: a pruned journal
   * has removed them (docs/format.md, "Pruned history"). Any other missing blob is left to
   * {@link checkBlobs}, which refuses it.
   */
  private async goneWithDropped(needs: BlobNeed[], needEpochs: number[][], dropped: Set<number>, given: BlobPut[]): Promise<Set<string>> {
    const givenKeys = new Set(given.map((b) => b.addr.toString('hex')));
    const candidates = new Map<string, Buffer>();
    const named = new Set<string>();
    needs.forEach((n, i) => {
      const k = n.addr.toString('hex');
      if (givenKeys.has(k)) return;
      if (needEpochs[i]!.some((e) => dropped.has(e))) candidates.set(k, n.addr);
      else named.add(k);
    });
    // A blob also named by kept history must be there.
    for (const k of named) candidates.delete(k);
    const addrs = [...candidates.values()];
    const sizes = addrs.length ? await this.store.blobSizes(addrs) : [];
    return new Set(addrs.flatMap((a, i) => (sizes[i] === undefined ? [a.toString('hex')] : [])));
  }

  /** Tells the store that a coming commit names these blobs (it may look them up now, while another commit runs). */
  prefetchBlobs(addrs: Buffer[]): Promise<void> {
    return this.store.prefetchBlobs(addrs);
  }

  /**
   * Runs a request of another process (see {@link JournalStore.serveRequests}): `prune`
   * with {@link PruneOptions} (policy and fork points), `label` with a {@link LabelRequest}.
   * @throws TtjError BAD_ARGUMENT for another request.
   */
  private async runRequest(name: string, args: unknown): Promise<unknown> {
    if (name === LABEL_REQUEST) {
      const { text, at } = (args ?? {}) as LabelRequest;
      return labelEpoch(this, { text, at });
    }
    if (name !== 'prune') throw new TtjError(ErrorCodes.BAD_ARGUMENT, `unknown writer request ${JSON.stringify(name)}`);
    const { policy, forkPoints } = args as PruneOptions;
    return { ...(await prune(this, { policy, forkPoints })), ranBy: { pid: process.pid } };
  }

  /** Removes blobs in the store's writer turn (a prune: src/journal/prune.ts; see {@link JournalStore.removeBlobs}). */
  removeBlobs(addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs> {
    return this.store.removeBlobs(addrs, opts);
  }

  /** Gives back the space of removed blobs (see {@link JournalStore.compact}). */
  compactStore(): Promise<CompactResult> {
    return this.store.compact();
  }

  /** Makes every commit so far durable (commits made with `sync: false`). */
  sync(): Promise<void> {
    return this.store.sync();
  }
}

/**
 * The epochs that must both stay for the blobs `ev` names to be kept by a prune
 * (docs/format.md, "Pruned history"): a frame's or audio's own epoch; for other events
 * the stretch they are in, closed by the commit of epoch n (`open`, else the next one to
 * open), which stays when epochs n-1 and n both do.
 */
function stretchEpochs(ev: Event, open: OpenEpoch | undefined, nextEpoch: number): number[] {
  if (ev.body === 'frame') return [Number(ev.frame!.epoch)];
  if (ev.body === 'audio') return [Number(ev.audio!.epoch)];
  const n = open ? open.epoch : nextEpoch;
  return n > 0 ? [n - 1, n] : [n];
}

/** A replicated event: its stored bytes and their decoding. */
interface Replicated {
  seq: number;
  bytes: Buffer;
  event: Event;
}

/**
 * A replicated event must continue the chain where it is appended: its seq is the next
 * one and its `prev_hash` the hash of the head.
 * @throws TtjError BAD_EVENT_STREAM.
 */
function continuesChain(g: Replicated, seq: number, prev: Buffer): void {
  if (g.seq !== seq) throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, `a replicated event has seq ${g.seq} where seq ${seq} comes next`, { seq, expected: seq, actual: g.seq });
  if (!buf(g.event.prevHash).equals(prev)) {
    throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, `replicated event ${seq} does not continue the chain: its prev_hash ${buf(g.event.prevHash).toString('hex')} is not the hash of event ${seq - 1}`, {
      seq,
      expected: prev.toString('hex'),
    });
  }
}

/**
 * The pause time a commit carries (µs), if any: a whole number that fits its field.
 * @throws TtjError BAD_EVENT_STREAM.
 */
function pauseOf(c: { pauseUs?: number | null }, seq: number): number | undefined {
  const p = c.pauseUs;
  if (p === undefined || p === null) return undefined;
  if (!Number.isSafeInteger(p) || p < 0 || p > 0xffffffff) throw badStream(`event ${seq}: pause ${p} µs is not a whole number of microseconds from 0 to 2^32-1`, seq);
  return p;
}

/** Which body an event body object carries. */
function bodyKind(e: IEvent): string {
  for (const k of ['header', 'epochBegin', 'memoryLayout', 'diskCreate', 'pages', 'diskWrite', 'device', 'epochCommit', 'frame', 'audio', 'label', 'fork', 'vmConfig', 'prune', 'blob'] as const) {
    if (e[k]) return k;
  }
  throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, 'an event without a body');
}
