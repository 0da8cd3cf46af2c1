/**
 * Push: make another journal (any store) a copy of this one, sending only what it
 * lacks. The two agree on the common prefix of their chains ({@link commonPrefix}),
 * then the missing events go over byte for byte in batches of whole epochs, each with
 * only the blobs the destination does not hold (looked up by address), each batch one
 * atomic append ({@link JournalWriter.appendReplicated}). A push that is interrupted
 * leaves the destination at a batch boundary, and running it again continues there.
 *
 * A pruned source goes over as it is: every event (its prune events too), and of the
 * blobs only those it still has; history a prune dropped travels in one append with that
 * prune event ({@link pushBatches}), which is what lets the destination take events whose
 * blobs are gone. Prune events that arrive at a destination that had the blobs they drop
 * (an incremental push after a prune) are carried out there too: the destination
 * removes the blobs no kept point needs, as the source did (docs/stores.md, "Push and pull").
 */
import { ErrorCodes, isTtjError, TtjError } from '../errors.js';
import { journalKeyId } from '../store/journal-key.js';
import { keyFileId } from '../store/cipher-keys.js';
import { recordedLocation } from '../store/open-store.js';
import type { BlobPut, StoredEvent } from '../store/store.js';
import { decodeEvent } from './codec.js';
import { commonPrefix } from './common-prefix.js';
import type { Journal } from './journal.js';
import { collectGarbage, type GarbageCollection } from './prune.js';
import { droppedBy, pushBatches, type BatchLimits, type PushBatch } from './push-batches.js';
import { JournalWriter } from './writer.js';

/** Blob addresses looked up or read per request. */
const LOOKUP_BATCH = 8192;

/** Options of {@link push}. */
export interface PushOptions {
  /** After catching up, mirror each new commit of the source as it lands, until `signal` aborts. */
  follow?: boolean;
  /** Ends `follow` (the batch in flight completes). */
  signal?: AbortSignal;
  /** How big a batch grows before it is cut at the next epoch boundary. */
  batch?: BatchLimits;
  /** The command named in the destination's writer lock (when it is opened here). */
  command?: string;
  /** Called after each batch is appended. */
  onProgress?: (p: PushProgress) => void;
  /** With `follow`: called after each new commit of the source is mirrored. */
  onLag?: (lag: PushLag) => void;
}

/** How far a push has come (see {@link PushOptions.onProgress}). */
export interface PushProgress {
  /** Events appended to the destination so far, and the source's head seq they go to. */
  headSeq: number;
  targetSeq: number;
  events: number;
  bytesSent: number;
}

/** How far behind the source a following push is (see {@link PushOptions.onLag}). */
export interface PushLag {
  /** The source's head seq when the commit was seen, and the destination's before it was mirrored. */
  sourceSeq: number;
  destinationSeq: number;
  /** Events the destination was behind. */
  seqs: number;
  /** From the time of the source's newest event (its commit) to its append at the destination. */
  ms: number;
}

/** What a push did (`ttj push --json`). */
export interface PushResult {
  source: string;
  destination: string;
  /** The destination was created by this push. */
  created: boolean;
  /** The last seq both held before the push (-1: the destination was new). */
  commonSeq: number;
  /** The destination's head after the push. */
  head: { seq: number; hash: string };
  /** Events appended to the destination. */
  events: number;
  /** Appends made (each atomic: whole epochs). */
  batches: number;
  /** Blobs sent, and blobs named that the destination already held. */
  blobsSent: number;
  blobsSkipped: number;
  /** Event and blob bytes sent (uncompressed), and the blob bytes the destination already held. */
  bytesSent: number;
  bytesSkipped: number;
  /** Prune events appended to the destination. */
  prunes: number;
  /** When prune events were appended: the blobs the destination removed after them, as the source did (totals over the push). */
  collected?: { removedBlobs: number; removedBytes: number };
  /** With `follow`: the commits mirrored as they landed, and the lag. */
  follow?: { commits: number; lastLagMs?: number; maxLagMs?: number };
}

/**
 * Pushes `src` into `dest`: a journal open for writing, or a location (a directory or
 * URL), created as a copy of `src` when nothing is there. The destination ends with the
 * source's events, byte for byte (same seqs, times and hash chain).
 * @throws TtjError DIVERGED (first differing seq), FORKED, AHEAD: the destination is not a prefix of the source;
 *   KEY_MISMATCH: it is not encrypted with the source's key (or the source is plain and it is not); nothing is written.
 */
export async function push(src: Journal, dest: JournalWriter | string, opts: PushOptions = {}): Promise<PushResult> {
  const opened = typeof dest === 'string' ? await openDestination(src, dest, opts.command ?? 'ttj push') : { w: dest, created: false };
  const w = opened.w;
  try {
    checkSameKey(src, w);
    const commonSeq = opened.created ? -1 : await commonPrefix(src, w);
    const r: PushResult = {
      source: src.location,
      destination: w.location,
      created: opened.created,
      commonSeq,
      head: { seq: -1, hash: '' },
      events: 0,
      batches: 0,
      blobsSent: 0,
      blobsSkipped: 0,
      bytesSent: 0,
      bytesSkipped: 0,
      prunes: 0,
    };
    if (opened.created) {
      // The header went over when the destination was made.
      r.events = 1;
      r.bytesSent = (await firstEvent(src)).length;
    }
    let head = Math.max(0, commonSeq);
    const target = (await src.storeHead())!.seq;
    head = await sendRange(src, w, head, target, r, opts);
    if (opts.follow && !opts.signal?.aborted) {
      const f: NonNullable<PushResult['follow']> = { commits: 0 };
      r.follow = f;
      for await (const c of src.watch({ after: head, signal: opts.signal })) {
        const before = head;
        const last = await mirror(src, w, head, c.head.seq, r, opts);
        head = last.seq;
        const ms = Math.max(0, Date.now() - last.timeUs / 1000);
        f.commits++;
        f.lastLagMs = ms;
        f.maxLagMs = Math.max(f.maxLagMs ?? 0, ms);
        opts.onLag?.({ sourceSeq: c.head.seq, destinationSeq: before, seqs: c.head.seq - before, ms });
      }
    }
    const h = (await w.storeHead())!;
    r.head = { seq: h.seq, hash: h.hash.toString('hex') };
    return r;
  } finally {
    if (typeof dest === 'string') await w.close();
  }
}

/** Sends the events after `head` up to `to` (a commit seen by follow); returns the seq and time of the last one. */
async function mirror(src: Journal, w: JournalWriter, head: number, to: number, r: PushResult, opts: PushOptions): Promise<{ seq: number; timeUs: number }> {
  let last: StoredEvent | undefined;
  const seq = await sendRange(src, w, head, to, r, opts, (e) => (last = e));
  return { seq, timeUs: last ? Number(decodeEvent(last.bytes, last.seq).timeUs) : Date.now() * 1000 };
}

/**
 * Appends the events of `src` after `head` up to `to` (or on to the newest prune event,
 * should one have landed since) to `w`, batch by batch, then, when prune events went
 * over, removes the blobs the destination no longer needs; returns the new head seq. A
 * batch refused for a blob a prune of the source removed meanwhile is sent again with
 * that prune (up to twice).
 */
async function sendRange(src: Journal, w: JournalWriter, head: number, to: number, r: PushResult, opts: PushOptions, onLast?: (e: StoredEvent) => void): Promise<number> {
  const prunesBefore = r.prunes;
  for (let attempt = 0; ; attempt++) {
    const dropped = await droppedBy(src);
    try {
      head = await sendBatches(src, w, head, Math.max(to, ...dropped.values()), dropped, r, opts, onLast);
      break;
    } catch (e) {
      // A prune of the source landed meanwhile and removed blobs of history this push took
      // as kept (the batch failed whole): go on from the destination's head with that prune.
      if (attempt >= 2 || !isTtjError(e, ErrorCodes.CORRUPT_BLOB) || (await droppedBy(src)).size === dropped.size) throw e;
      head = w.headSeqNumber;
    }
  }
  if (r.prunes > prunesBefore) addCollected(r, await collectGarbage(w));
  return head;
}

/** Appends the events of `src` after `head` up to `to` to `w` in batches ({@link pushBatches} with `dropped`); returns the new head seq. */
async function sendBatches(src: Journal, w: JournalWriter, head: number, to: number, dropped: ReadonlyMap<number, number>, r: PushResult, opts: PushOptions, onLast?: (e: StoredEvent) => void): Promise<number> {
  for await (const batch of pushBatches(src, head + 1, to, opts.batch, dropped)) {
    if (opts.signal?.aborted) break;
    const blobs = await missingBlobs(src, w, batch, r, dropped.size > 0);
    const res = await w.appendReplicated(batch.events, blobs);
    r.batches++;
    r.events += batch.events.length;
    for (const e of batch.events) {
      r.bytesSent += e.bytes.length;
      if (decodeEvent(e.bytes, e.seq).body === 'prune') r.prunes++;
    }
    head = res.lastSeq;
    onLast?.(batch.events[batch.events.length - 1]!);
    opts.onProgress?.({ headSeq: head, targetSeq: to, events: r.events, bytesSent: r.bytesSent });
  }
  return head;
}

/** Adds what a garbage collection at the destination removed to the result. */
function addCollected(r: PushResult, g: GarbageCollection): void {
  const c = (r.collected ??= { removedBlobs: 0, removedBytes: 0 });
  c.removedBlobs += g.removed.blobs;
  c.removedBytes += g.removed.rawBytes;
}

/**
 * The blobs `batch` names that `w` lacks and `src` has (a `pruned` source lacks some: the
 * destination takes their absence only where the batch's prune events explain it), read
 * from `src` (checked against their addresses); counts what is sent and skipped.
 */
async function missingBlobs(src: Journal, w: JournalWriter, batch: PushBatch, r: PushResult, pruned: boolean): Promise<BlobPut[]> {
  const unique = new Map<string, Buffer>();
  for (const a of batch.addrs) unique.set(a.toString('hex'), a);
  const addrs = [...unique.values()];
  const out: BlobPut[] = [];
  for (let i = 0; i < addrs.length; i += LOOKUP_BATCH) {
    const part = addrs.slice(i, i + LOOKUP_BATCH);
    const sizes = await w.blobSizes(part);
    const missing = part.filter((_, k) => sizes[k] === undefined);
    for (const s of sizes) if (s !== undefined) r.bytesSkipped += s;
    r.blobsSkipped += part.length - missing.length;
    if (!missing.length) continue;
    const have = pruned ? await src.blobSizes(missing) : [];
    const stored = pruned ? missing.filter((_, k) => have[k] !== undefined) : missing;
    if (!stored.length) continue;
    const data = await src.blobs(stored);
    stored.forEach((addr, k) => {
      out.push({ addr, data: data[k]! });
      r.bytesSent += data[k]!.length;
    });
    r.blobsSent += stored.length;
  }
  return out;
}

/** Opens the destination for writing; a missing one is created with the source's header. */
async function openDestination(src: Journal, location: string, command: string): Promise<{ w: JournalWriter; created: boolean }> {
  const header = await firstEvent(src);
  // An encrypted journal goes only to a journal of its own master key (one created gets its
  // key file), so what lands there is sealed as at the source; a plain one only to a plain one.
  const sameKeyAs = src.key;
  if (!sameKeyAs) await refuseEncryptedDestination(location);
  try {
    // An existing store without events (a push killed as it made it) gets the source's header too.
    return { w: await JournalWriter.openWriter(location, { create: false, header, command, sameKeyAs }), created: false };
  } catch (e) {
    if (!isTtjError(e, ErrorCodes.NOT_A_JOURNAL)) throw e;
  }
  return { w: await JournalWriter.openWriter(location, { create: true, header, pageSize: src.pageSize, command, sameKeyAs }), created: true };
}

/** @throws TtjError KEY_MISMATCH when the two journals are not both plain or both of one master key. */
function checkSameKey(src: Journal, dest: Journal): void {
  const idOf = (j: Journal) => (j.key ? keyFileId(j.key.keyFile, {}) : 'plain');
  const expected = idOf(src);
  const actual = idOf(dest);
  if (expected !== actual) throw new TtjError(ErrorCodes.KEY_MISMATCH, `${dest.location} is not encrypted with the source's key`, { location: dest.location, expected, actual });
}

/** @throws TtjError KEY_MISMATCH when the destination of a plain journal is encrypted. */
async function refuseEncryptedDestination(location: string): Promise<void> {
  const actual = await journalKeyId(location);
  if (actual !== 'plain') throw new TtjError(ErrorCodes.KEY_MISMATCH, `${recordedLocation(location)} is encrypted and the source is not`, { location: recordedLocation(location), expected: 'plain', actual });
}

/** The stored bytes of event 0 (the header). */
async function firstEvent(src: Journal): Promise<Buffer> {
  for await (const batch of src.storedEvents(0, 1)) for (const e of batch) return e.bytes;
  return Buffer.alloc(0); // not reached: an open journal has a header
}
