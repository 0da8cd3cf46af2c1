import { ErrorCodes, isTtjError, TtjError } from '../errors.js';
import { LocalStore } from '../store/local-store.js';
import type { BlobPut, IndexEntry } from '../store/store.js';

import { buf, decodeEvent, encodeEvent, eventHash, type IEvent } from './codec.js';
import { splitAddrs } from './chunks.js';
import {
  epochKey,
  frameKey,
  jsonValue,
  keyframeKey,
  labelKey,
  vmConfigKey,
  diskStatsKey,
  parseValue,
  type DiskStats,
  type EpochEntry,
  type FrameEntry,
  type KeyframeEntry,
} from './index-keys.js';
import { checkPageSize, DEFAULT_PAGE_SIZE, headerEvent, Journal, readHeader, type OpenJournalOptions } from './journal.js';
import { stateAt } from './state-at.js';
import type { VmState } from './vm-state.js';
import type { ttj } from '../gen/events.js';

/** A keyframe is written at least every this many epochs. */
export const KEYFRAME_MAX_EPOCHS = 64;
/** ...and as soon as the entries changed since the last one exceed this fraction of the state. */
export const KEYFRAME_CHANGE_FRACTION = 0.25;

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
  private lastTimeUs = 0;
  private nextEpoch = 0;
  private nextFrame = 0;
  private lastCommitted = -1;
  private epochsSinceKeyframe = 0;
  private changesSinceKeyframe = 0;
  private committing: Promise<unknown> = Promise.resolve();
  private diskStats = new Map<string, DiskStats>();

  /**
   * Opens `dir` for writing; with `create` (the default) a missing journal is created.
   * @throws TtjError LOCKED (another writer), NOT_A_JOURNAL, BAD_ARGUMENT (page size).
   */
  static async openWriter(dir: string, opts: OpenJournalOptions = {}): Promise<JournalWriter> {
    if (opts.pageSize !== undefined) checkPageSize(opts.pageSize);
    const store = await LocalStore.open(dir, { ...opts, write: true, create: opts.create ?? true });
    try {
      if (!(await store.head())) {
        await store.append({ expectedHead: -1, events: [headerEvent(opts.pageSize ?? DEFAULT_PAGE_SIZE)] });
      }
      const w = new JournalWriter(store, await readHeader(store));
      await w.load();
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
    const lastFrame = await this.lastFrame();
    this.nextEpoch = last ? last.epoch + 1 : 0;
    this.lastCommitted = last ? last.epoch : -1;
    this.nextFrame = lastFrame ? lastFrame.frame + 1 : 0;
    const headEv = await this.event(h.seq);
    this.lastTimeUs = Number(headEv.timeUs);
    const kf = await this.keyframeAtOrBefore(h.seq);
    this.epochsSinceKeyframe = kf && last ? last.epoch - kf.epoch : 0;
    for await (const [, v] of this.store.indexRange({ gte: 'dw/', lt: 'dw0' })) {
      const d = parseValue<DiskStats>(v);
      this.diskStats.set(d.disk, d);
    }
    this.changesSinceKeyframe = at.replayed;
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
    return this.nextEpoch;
  }

  get lastCommittedEpoch(): number {
    return this.lastCommitted;
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

  private async commitNow(bodies: IEvent[], blobs: BlobPut[], opts: { sync?: boolean }): Promise<CommitResult> {
    if (bodies.length === 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'nothing to append');
    const tx = this.state.begin();
    const saved = {
      nextEpoch: this.nextEpoch,
      nextFrame: this.nextFrame,
      lastCommitted: this.lastCommitted,
      epochsSinceKeyframe: this.epochsSinceKeyframe,
      changesSinceKeyframe: this.changesSinceKeyframe,
      lastTimeUs: this.lastTimeUs,
      diskStats: new Map([...this.diskStats].map(([k, v]) => [k, { ...v }])),
    };
    try {
      const result = await this.build(bodies, blobs, opts.sync ?? true);
      tx.commit();
      return result;
    } catch (e) {
      tx.rollback();
      Object.assign(this, saved);
      throw e;
    }
  }

  private async build(bodies: IEvent[], blobs: BlobPut[], sync: boolean): Promise<CommitResult> {
    const bad = (msg: string, seq?: number) => new TtjError(ErrorCodes.BAD_EVENT_STREAM, msg, { seq });
    const encoded: Uint8Array[] = [];
    const index: IndexEntry[] = [];
    const epochs: EpochEntry[] = [];
    const frames: FrameEntry[] = [];
    const allBlobs = [...blobs];
    const named: Buffer[] = [];
    let seq = this.headSeq;
    let prev = this.headHash;
    let open: { epoch: number; beginSeq: number; dirty: number; zero: number; disk: number; device: number; labels: string[] } | undefined;
    const touchedDisks = new Set<string>();
    const provided = new Map<string, number>();
    for (const b of blobs) provided.set(b.addr.toString('hex'), b.data.length);

    for (const body of bodies) {
      seq++;
      const ev: IEvent = { ...body, seq, prevHash: prev };
      const kind = bodyKind(body);
      const now = Date.now() * 1000;
      const given = Number(body.timeUs ?? 0);
      if (given && given < this.lastTimeUs) throw bad(`event ${seq}: time goes backwards`, seq);
      ev.timeUs = given || Math.max(now, this.lastTimeUs);
      this.lastTimeUs = Number(ev.timeUs);
      switch (kind) {
        case 'header':
        case 'blob':
          throw bad(`event ${seq}: a ${kind} event cannot be appended here`, seq);
        case 'diskCreate': {
          const c = body.diskCreate!;
          const name = c.name ?? '';
          this.diskStats.set(name, { disk: name, size: Number(c.size ?? 0), blockSize: c.blockSize || this.pageSize, writes: 0, blocks: 0, lastSeq: seq });
          touchedDisks.add(name);
          break;
        }
        case 'vmConfig':
          index.push({ key: vmConfigKey(seq), value: jsonValue({ seq, json: body.vmConfig!.json ?? '{}' }) });
          break;
        case 'fork':
          if (seq !== 1) throw bad(`event ${seq}: a fork event must be the first event after the header`, seq);
          break;
        case 'epochBegin': {
          if (open) throw bad(`event ${seq}: epoch ${open.epoch} is still open`, seq);
          const n = Number(body.epochBegin!.epoch ?? 0);
          if (n !== this.nextEpoch) throw bad(`event ${seq}: expected epoch ${this.nextEpoch}, got ${n}`, seq);
          open = { epoch: n, beginSeq: seq, dirty: 0, zero: 0, disk: 0, device: 0, labels: [] };
          break;
        }
        case 'memoryLayout':
        case 'pages':
        case 'device':
          if (!open) throw bad(`event ${seq}: ${kind} outside an epoch`, seq);
          break;
        case 'label': {
          const text = body.label!.text ?? '';
          if (!text) throw bad(`event ${seq}: empty label`, seq);
          const epoch = open ? open.epoch : this.lastCommitted;
          if (epoch < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'there is no epoch to label yet', { seq });
          ev.label = { text, epoch };
          if (open) open.labels.push(text);
          index.push({ key: labelKey(text, epoch), value: jsonValue({ epoch, seq, text }) });
          break;
        }
        case 'frame': {
          if (open) throw bad(`event ${seq}: a frame inside epoch ${open.epoch}; frames follow the commit`, seq);
          if (this.lastCommitted < 0) throw new TtjError(ErrorCodes.NO_EPOCH, 'a frame needs a committed epoch to bind to', { seq });
          const f = body.frame!;
          const n = f.frame === undefined || f.frame === null ? this.nextFrame : Number(f.frame);
          if (n !== this.nextFrame) throw bad(`event ${seq}: expected frame ${this.nextFrame}, got ${n}`, seq);
          ev.frame = { ...f, frame: n, epoch: this.lastCommitted };
          this.nextFrame++;
          named.push(...splitAddrs(buf(f.chunkAddrs)));
          const entry: FrameEntry = {
            frame: n,
            seq,
            epoch: this.lastCommitted,
            time: new Date(Number(ev.timeUs) / 1000).toISOString(),
            timeUs: Number(ev.timeUs),
            format: f.format ?? 'png',
            width: f.width ?? 0,
            height: f.height ?? 0,
            bytes: Number(f.length ?? 0),
          };
          frames.push(entry);
          index.push({ key: frameKey(n), value: jsonValue(entry) });
          break;
        }
        case 'epochCommit': {
          const c = body.epochCommit!;
          if (!open) throw bad(`event ${seq}: commit without an open epoch`, seq);
          if (Number(c.epoch ?? 0) !== open.epoch) throw bad(`event ${seq}: commit of epoch ${Number(c.epoch)} but epoch ${open.epoch} is open`, seq);
          const root = this.state.root();
          const givenRoot = buf(c.stateRoot);
          if (givenRoot.length && !givenRoot.equals(root)) {
            throw new TtjError(ErrorCodes.STATE_ROOT_MISMATCH, `event ${seq}: the given state root of epoch ${open.epoch} does not match the state`, {
              seq,
              expected: root.toString('hex'),
              actual: givenRoot.toString('hex'),
            });
          }
          this.epochsSinceKeyframe++;
          const total = Math.max(1, this.state.entryCount());
          let keyframe: Buffer | undefined;
          if (this.lastCommitted < 0 || this.epochsSinceKeyframe >= KEYFRAME_MAX_EPOCHS || this.changesSinceKeyframe >= total * KEYFRAME_CHANGE_FRACTION) {
            const kf = this.state.toKeyframe();
            keyframe = kf.addr;
            allBlobs.push(...kf.blobs);
            this.epochsSinceKeyframe = 0;
            this.changesSinceKeyframe = 0;
            const entry: KeyframeEntry = { seq, epoch: open.epoch, addr: kf.addr.toString('hex') };
            index.push({ key: keyframeKey(seq), value: jsonValue(entry) });
          }
          ev.epochCommit = {
            epoch: open.epoch,
            stateRoot: root,
            beginSeq: open.beginSeq,
            dirtyPages: open.dirty,
            zeroPages: open.zero,
            diskBlocks: open.disk,
            keyframe,
          };
          const entry: EpochEntry = {
            epoch: open.epoch,
            seq,
            beginSeq: open.beginSeq,
            time: new Date(Number(ev.timeUs) / 1000).toISOString(),
            timeUs: Number(ev.timeUs),
            labels: open.labels,
            dirtyPages: open.dirty,
            zeroPages: open.zero,
            diskBlocks: open.disk,
            deviceBytes: open.device,
            newBytes: 0,
            storedBytes: 0,
            keyframe: !!keyframe,
            stateRoot: root.toString('hex'),
          };
          epochs.push(entry);
          this.lastCommitted = open.epoch;
          this.nextEpoch = open.epoch + 1;
          open = undefined;
          break;
        }
        default:
          break;
      }
      // Count what the epoch changes, and the blobs it names.
      if (kind === 'pages') {
        const p = body.pages!;
        const n = p.pfns?.length ?? 0;
        const z = p.zeroPfns?.length ?? 0;
        open!.dirty += n + z;
        open!.zero += z;
        this.changesSinceKeyframe += n + z;
        named.push(...splitAddrs(buf(p.addrs)));
      } else if (kind === 'diskWrite') {
        const w = body.diskWrite!;
        const n = (w.blocks?.length ?? 0) + (w.zeroBlocks?.length ?? 0);
        if (open) open.disk += n;
        this.changesSinceKeyframe += n;
        named.push(...splitAddrs(buf(w.addrs)));
        const known = this.state.disks.get(w.disk ?? '');
        const d = this.diskStats.get(w.disk ?? '') ?? { disk: w.disk ?? '', size: known?.size ?? 0, blockSize: known?.blockSize, writes: 0, blocks: 0, lastSeq: 0 };
        d.writes++;
        d.blocks += n;
        d.lastSeq = seq;
        this.diskStats.set(d.disk, d);
        touchedDisks.add(d.disk);
      } else if (kind === 'device') {
        open!.device += Number(body.device!.length ?? 0);
        named.push(...splitAddrs(buf(body.device!.chunkAddrs)));
      }
      const bytes = encodeEvent(ev);
      const decoded = decodeEvent(bytes, seq);
      if (kind !== 'epochCommit') {
        // Memory and device events take effect at their epoch's commit for readers;
        // the writer applies them at once, which gives the same state at the commit.
        this.state.apply(decoded, seq);
      }
      encoded.push(bytes);
      prev = eventHash(bytes);
    }
    if (open) throw bad(`epoch ${open.epoch} is not committed at the end of the batch`);

    // Every blob named must be stored already or come with the batch.
    const missing = named.filter((a) => !provided.has(a.toString('hex')));
    if (missing.length) {
      const has = await this.store.hasBlobs(missing);
      const i = has.indexOf(false);
      if (i >= 0) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${missing[i]!.toString('hex')} is named but neither stored nor given`, { addr: missing[i]!.toString('hex') });
    }

    const res = await this.store.append({
      sync,
      expectedHead: this.headSeq,
      events: encoded,
      blobs: allBlobs,
      index: (written) => {
        // Cost of the batch goes on its (last) epoch.
        const last = epochs[epochs.length - 1];
        if (last) {
          last.newBytes = written.newBytes;
          last.storedBytes = written.storedBytes;
        }
        return [
          ...index,
          ...epochs.map((e) => ({ key: epochKey(e.epoch), value: jsonValue(e) })),
          ...[...touchedDisks].map((d) => ({ key: diskStatsKey(d), value: jsonValue(this.diskStats.get(d)) })),
        ];
      },
    }).catch((e: unknown) => {
      if (isTtjError(e)) throw e;
      throw new TtjError(ErrorCodes.INTERNAL, `append failed: ${(e as Error).message}`, {}, { cause: e });
    });
    const firstSeq = this.headSeq + 1;
    this.headSeq = res.head.seq;
    this.headHash = res.head.hash;
    return { firstSeq, lastSeq: res.head.seq, epochs, frames, newBlobs: res.newBlobs, newBytes: res.newBytes, storedBytes: res.storedBytes };
  }

  /** Makes every commit so far durable (commits made with `sync: false`). */
  sync(): Promise<void> {
    return this.store.sync();
  }
}

/** Which body an event body object carries. */
export function bodyKind(e: IEvent): string {
  for (const k of ['header', 'epochBegin', 'memoryLayout', 'diskCreate', 'pages', 'diskWrite', 'device', 'epochCommit', 'frame', 'label', 'fork', 'vmConfig', 'blob'] as const) {
    if (e[k]) return k;
  }
  throw new TtjError(ErrorCodes.BAD_EVENT_STREAM, 'an event without a body');
}

export type { ttj };
