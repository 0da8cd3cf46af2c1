/**
 * The writer's side of the embedded store: appends (blob bytes to the pack files,
 * then one LevelDB batch of their locations, the events, index entries, head and
 * statistics), index rebuilds and syncs, one at a time in call order. The one writer
 * knows the head and statistics its last append left (nobody else appends).
 */
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import { sha256, ZERO_ADDR } from '../util/hash.js';
import type { BlobIndex } from './blob-index.js';
import type { KvOp, KvWriter } from './kv.js';
import { blobKey, decodeHead, encodeHead, eventKey, INDEX_KEYS, indexKey, K_HEAD, K_STATS, K_SYNC, lastStoredEvent, readHead, readStats } from './index-layout.js';
import { decodeLocation, encodeLocation, type BlobLocation, type BlobPatchRef, type PackMark, type PackWriter } from './pack-files.js';
import type { AppendBatch, AppendResult, BlobPut, IndexEntry, StoreHead, StoreStats } from './store.js';

/** Raw bytes per compressed block (pages appended together are compressed together). */
const BLOCK_RAW_BYTES = 1024 * 1024;
/**
 * Longest chain of patches a blob may stand on (a read applies that many patches to a
 * whole blob); a patch that would make it longer is stored as its whole blob.
 */
const MAX_PATCH_DEPTH = 8;

/** Blob keys of the stored bases of patches in `fresh` (not the zero address, not in the batch). */
function patchBases(fresh: Map<string, BlobPut>): string[] {
  const out = new Set<string>();
  for (const b of fresh.values()) {
    if (!b.patch || b.patch.base.equals(ZERO_ADDR)) continue;
    const k = blobKey(b.patch.base);
    if (!fresh.has(k)) out.add(k);
  }
  return [...out];
}

export class StoreAppender {
  /** The append, rebuild or sync running last (each waits for the one before). */
  private queue: Promise<unknown> = Promise.resolve();
  /** The head and statistics, as the last append left them (undefined until then). */
  private known: { head: StoreHead | undefined; stats: StoreStats } | undefined;

  /** Set once {@link allowPatches} has run: blobs may be stored as patches. */
  private patchesAllowed = false;

  /**
   * Appends to the journal at `location` (named in errors): its index `kv`, blob locations
   * `blobs`, pack files `writer` (closed on {@link close}); `allowPatches` marks the journal
   * as one that may hold patches, before the first is stored.
   */
  constructor(
    private readonly location: string,
    private readonly kv: KvWriter,
    private readonly blobs: BlobIndex,
    private readonly writer: PackWriter,
    private readonly allowPatches: () => Promise<void>,
  ) {}

  async head(): Promise<StoreHead | undefined> {
    if (this.known) return this.known.head && { seq: this.known.head.seq, hash: Buffer.from(this.known.head.hash) };
    return readHead(this.kv);
  }

  async stats(): Promise<StoreStats> {
    if (this.known) return { ...this.known.stats };
    return readStats(this.kv);
  }

  /** Bytes written to pack files by this writer since it opened. */
  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  append(batch: AppendBatch): Promise<AppendResult> {
    return this.queued(() => this.doAppend(batch));
  }

  /** Replaces the secondary index and sets head and statistics (`ttj repair`). */
  rebuildIndex(head: StoreHead, index: IndexEntry[]): Promise<void> {
    return this.queued(async () => {
      const last = await lastStoredEvent(this.kv);
      if (!last || last.seq !== head.seq || !last.hash.equals(head.hash)) {
        throw new TtjError(ErrorCodes.CORRUPT_EVENT, `a rebuilt head must be the last stored event (${last ? last.seq : 'none'})`, { expected: last?.seq ?? -1, actual: head.seq });
      }
      const ops: KvOp[] = [];
      for await (const [k] of this.kv.range(INDEX_KEYS)) ops.push({ type: 'del', key: k });
      for (const e of index) ops.push({ type: 'put', key: indexKey(e.key), value: e.value });
      ops.push({ type: 'put', key: K_HEAD, value: encodeHead(head) });
      const stats = await this.blobs.countBlobs();
      ops.push({ type: 'put', key: K_STATS, value: Buffer.from(JSON.stringify(stats)) });
      await this.kv.batch(ops, { sync: true });
      this.known = { head: { seq: head.seq, hash: Buffer.from(head.hash) }, stats };
    });
  }

  /** Makes everything appended so far durable. */
  sync(): Promise<void> {
    return this.queued(async () => {
      await this.writer.sync();
      // A synchronous LevelDB write makes every earlier (unsynced) write durable too.
      await this.kv.batch([{ type: 'put', key: K_SYNC, value: Buffer.from(String(Date.now())) }], { sync: true });
    });
  }

  /**
   * Runs `fn` in the writer's turn: no append, rebuild or sync runs meanwhile (a prune's
   * removal and each step of a compaction: src/store/pack-compaction.ts).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.queued(fn);
  }

  /** Inside {@link exclusive}: writes index operations on blob locations with the statistics they leave, durably. */
  async writeBlobOps(ops: KvOp[], stats: StoreStats): Promise<void> {
    const head = await this.head();
    await this.kv.batch([...ops, { type: 'put', key: K_STATS, value: Buffer.from(JSON.stringify(stats)) }], { sync: true });
    this.known = { head, stats };
  }

  /** Inside {@link exclusive}: appends blocks of blob bytes (a compaction's copies), durably; each item's location, group by group. */
  writeCopies(groups: Buffer[][]): Promise<BlobLocation[][]> {
    return this.writeBlocks(groups, true, this.writer.mark());
  }

  /** The pack file appends go to now (undefined: none open). */
  get openPack(): number | undefined {
    return this.writer.currentPack;
  }

  /** Inside {@link exclusive}: closes the pack file appends go to, so that a compaction may take it; the next append starts a new one. */
  finishPack(): Promise<void> {
    return this.writer.finishPack();
  }

  /** Settles once everything queued has (whether it failed or not). */
  idle(): Promise<unknown> {
    return this.queue;
  }

  /** Closes the pack file, once everything queued is done. */
  async close(): Promise<void> {
    await this.queue;
    await this.writer.close();
  }

  private queued<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async doAppend(batch: AppendBatch): Promise<AppendResult> {
    const kv = this.kv;
    const head = await this.head();
    const headSeq = head ? head.seq : -1;
    if (headSeq !== batch.expectedHead) {
      throw new TtjError(ErrorCodes.WRONG_EXPECTED_HEAD, `append expected head ${batch.expectedHead} but the head is ${headSeq}`, {
        expected: batch.expectedHead,
        actual: headSeq,
      });
    }
    if (batch.events.length === 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'an append needs at least one event');
    // Never over an existing event, whatever the head entry says (checked once per writer: it is the only appender).
    if (!this.known && (await kv.get(eventKey(headSeq + 1)))) {
      throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: event ${headSeq + 1} is stored beyond its head ${headSeq} (ttj repair rebuilds the index)`, {
        seq: headSeq + 1,
      });
    }
    const ops: KvOp[] = [];
    // Blobs first: dedupe within the batch and against the store.
    const fresh = new Map<string, BlobPut>();
    for (const b of batch.blobs ?? []) {
      const k = blobKey(b.addr);
      if (!fresh.has(k)) fresh.set(k, b);
    }
    await this.checkRelied(batch.relies ?? [], fresh);
    const keys = [...fresh.keys()];
    const bases = patchBases(fresh);
    const have = keys.length ? await this.blobs.lookup([...keys, ...bases]) : [];
    const baseLocs = new Map([...keys, ...bases].map((k, i) => [k, have[i]]));
    keys.forEach((k, i) => {
      if (have[i]) fresh.delete(k);
    });
    // What each new blob is stored as: its bytes, or a patch on a base (when the base
    // is stored or comes earlier in this append, and its chain of patches is short).
    const items = new Map<string, { bytes: Buffer; patch?: BlobPatchRef }>();
    for (const [k, b] of fresh) {
      const p = b.patch;
      let depth = 0;
      if (p) {
        if (p.base.equals(ZERO_ADDR)) depth = 1;
        else {
          const bk = blobKey(p.base);
          const inBatch = items.get(bk);
          const stored = baseLocs.get(bk);
          const baseDepth = inBatch ? (inBatch.patch?.depth ?? 0) : stored ? (decodeLocation(stored).patch?.depth ?? 0) : MAX_PATCH_DEPTH;
          depth = baseDepth + 1;
        }
      }
      if (p && depth <= MAX_PATCH_DEPTH && p.at + p.length <= b.data.length) {
        items.set(k, { bytes: b.data.subarray(p.at, p.at + p.length), patch: { base: p.base, at: p.at, fullLen: b.data.length, depth } });
      } else items.set(k, { bytes: b.data });
    }
    if (!this.patchesAllowed && [...items.values()].some((i) => i.patch)) {
      await this.allowPatches();
      this.patchesAllowed = true;
    }
    let newBytes = 0;
    const before = this.writer.bytesWritten;
    // Blobs in blocks of up to BLOCK_RAW_BYTES, all blocks of the batch in one write.
    const groups: [string, Buffer][][] = [];
    let group: [string, Buffer][] = [];
    let groupBytes = 0;
    for (const [k, { bytes }] of items) {
      if (groupBytes + bytes.length > BLOCK_RAW_BYTES && group.length) {
        groups.push(group);
        group = [];
        groupBytes = 0;
      }
      group.push([k, bytes]);
      groupBytes += bytes.length;
      newBytes += fresh.get(k)!.data.length;
    }
    if (group.length) groups.push(group);
    const placed: [string, Buffer][] = [];
    const sync = batch.sync ?? true;
    const mark = this.writer.mark();
    if (groups.length) {
      const locs = await this.writeBlocks(
        groups.map((g) => g.map((e) => e[1])),
        sync,
        mark,
      );
      groups.forEach((g, gi) =>
        g.forEach(([k], i) => {
          const loc = locs[gi]![i]!;
          const patch = items.get(k)!.patch;
          const value = encodeLocation(patch ? { ...loc, patch } : loc);
          ops.push({ type: 'put', key: k, value });
          placed.push([k, value]);
        }),
      );
    }
    const storedBytes = this.writer.bytesWritten - before;

    let seq = headSeq;
    let last: Uint8Array = new Uint8Array();
    for (const ev of batch.events) {
      seq++;
      last = ev;
      ops.push({ type: 'put', key: eventKey(seq), value: Buffer.from(ev.buffer, ev.byteOffset, ev.byteLength) });
    }
    const index = typeof batch.index === 'function' ? batch.index({ newBlobs: fresh.size, newBytes, storedBytes }) : (batch.index ?? []);
    for (const e of index) ops.push({ type: 'put', key: indexKey(e.key), value: e.value });
    const hash = sha256(last);
    ops.push({ type: 'put', key: K_HEAD, value: encodeHead({ seq, hash }) });
    const stats = await this.stats();
    stats.blobs += fresh.size;
    stats.rawBytes += newBytes;
    stats.storedBytes += storedBytes;
    ops.push({ type: 'put', key: K_STATS, value: Buffer.from(JSON.stringify(stats)) });
    await this.writeIndex(ops, { seq, hash }, sync, mark);
    this.known = { head: { seq, hash }, stats };
    for (const [k, v] of placed) this.blobs.placed(k, v);
    return { head: { seq, hash }, newBlobs: fresh.size, newBytes, storedBytes };
  }

  /**
   * The blobs a batch names without giving must still be stored (a prune may have
   * removed one since the writer looked: then nothing of the batch is written).
   * @throws TtjError CORRUPT_BLOB.
   */
  private async checkRelied(relies: Buffer[], given: Map<string, unknown>): Promise<void> {
    const keys = relies.map(blobKey).filter((k) => !given.has(k));
    if (!keys.length) return;
    const found = await this.blobs.lookup(keys);
    const i = found.findIndex((v) => !v);
    if (i >= 0) {
      const addr = keys[i]!.slice(2);
      throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addr} is named but no longer stored (a prune removed it); nothing was appended`, { addr });
    }
  }

  /**
   * Writes blob blocks (made durable with `sync`); when that fails (a full disk), the
   * pack file is cut back to `mark` before this rejects.
   * @throws TtjError NO_SPACE, READ_ONLY, PERMISSION...
   */
  private async writeBlocks(groups: Buffer[][], sync: boolean, mark: PackMark): Promise<BlobLocation[][]> {
    const writer = this.writer;
    try {
      const locs = await writer.appendBlocks(groups);
      if (sync) await writer.sync();
      return locs;
    } catch (e) {
      await writer.rollback(mark).catch(() => undefined);
      throw toTtjError(e, { path: this.location, what: 'writing blob bytes' });
    }
  }

  /**
   * The index batch of an append. When it fails, the index (opened again by
   * {@link LevelKv.batch}) says whether the batch is in it after all (a log write that
   * failed only as it was synced); when it is not, the pack file is cut back to `mark`,
   * so that the failed append leaves nothing behind.
   */
  private async writeIndex(ops: KvOp[], head: StoreHead, sync: boolean, mark: PackMark): Promise<void> {
    try {
      await this.kv.batch(ops, { sync });
    } catch (e) {
      let landed: boolean | undefined; // undefined: the index cannot say; its bytes are then kept
      try {
        const now = await this.kv.get(K_HEAD);
        const landedHead = now && decodeHead(now);
        landed = !!landedHead && landedHead.seq === head.seq && landedHead.hash.equals(head.hash);
      } catch {
        landed = undefined;
      }
      if (landed) return;
      if (landed === false) await this.writer.rollback(mark).catch(() => undefined);
      // The next append reads the head from the index again (and so never writes over
      // a batch that reached it after all).
      this.known = undefined;
      throw e;
    }
  }
}
