/**
 * Removing blobs and giving their space back in the embedded store (a prune:
 * src/journal/prune.ts, docs/format.md "Pruned history").
 *
 * - Removal deletes `b/` entries in one synchronous LevelDB batch, in the writer's turn
 *   (no append runs meanwhile); blobs that stay stored as patches keep their bases (a scan
 *   of every location, only in a journal whose marker lists `patches`). Blobs named by events appended after the prune's plan
 *   are kept: such an append found them stored and did not write them again.
 * - Compaction, step by step, each step atomic and in the writer's turn: a pack file
 *   with no live blob is deleted; one whose live blobs take less than half of it has
 *   its live blobs copied (read back and re-hashed outside the writer's turn) into the
 *   writer's current pack file, synced, then their `b/` entries switched in one
 *   synchronous batch, a slice at a time so appends go on between slices; then the file is deleted. A crash leaves
 *   either the old entries (the copies are unreferenced bytes) or the new ones (the old
 *   pack file is then unreferenced, and deleted by the next compaction).
 * - The newest pack file is truncated to nothing rather than deleted, so its number is
 *   never used again: a reader that still has an old location then finds no such block
 *   (and looks again), never another blob's bytes.
 */
import { stat, truncate, unlink } from 'node:fs/promises';
import type { BlobIndex } from './blob-index.js';
import type { BlobReader } from './blob-reader.js';
import { BLOCK_HEADER } from './block-codec.js';
import { BLOB_KEYS, blobKey, eventKey } from './index-layout.js';
import type { KvOp, KvWriter } from './kv.js';
import { decodeLocation, encodeLocation, listPacks, packFileName, type BlobLocation, type PackReader } from './pack-files.js';
import type { StoreAppender } from './store-appender.js';
import type { CompactResult, RemoveBlobsOptions, RemovedBlobs } from './store.js';
import { ZERO_ADDR } from '../util/hash.js';

/** A pack file is rewritten when its live blobs' share of its blocks is less than this fraction of it. */
const REWRITE_BELOW = 0.5;
/** Live bytes copied per step of a compaction (appends run between steps; each step holds the writer's turn to write and sync them). */
const STEP_BYTES = 2 * 1024 * 1024;
/** Items per copied block (as an append's blocks). */
const BLOCK_RAW_BYTES = 1024 * 1024;
/** Keys looked up per LevelDB getMany. */
const LOOKUP_SLICE = 4096;

/** The parts of a {@link LocalStore} a removal and a compaction work with. */
export interface CompactionParts {
  /** The journal's `packs/` directory. */
  packsDir: string;
  kv: KvWriter;
  blobs: BlobIndex;
  reader: BlobReader;
  packs: PackReader;
  appender: StoreAppender;
  /** False when the journal holds no blob stored as a patch (its marker says; read in the writer's turn, before any append could store one). */
  mayHavePatches: () => Promise<boolean>;
}

/** See {@link JournalStore.removeBlobs}. */
export function removeLocalBlobs(p: CompactionParts, addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs> {
  return p.appender.exclusive(async () => {
    const head = await p.appender.head();
    const spare = new Set<string>();
    if (head && head.seq > opts.planHead) {
      for await (const [k, v] of p.kv.range({ gt: eventKey(opts.planHead), lte: eventKey(head.seq) })) {
        for (const a of opts.named({ seq: parseInt(k.slice(2), 16), bytes: v })) spare.add(blobKey(a));
      }
    }
    const wanted = [...new Set(addrs.map(blobKey))];
    // A blob that stays, stored as a patch (docs/format.md, "Blob locations and patches"), needs its base
    // (a scan of every blob location: skipped in a journal that has no patch).
    if (await p.mayHavePatches()) for (const k of await basesOfKeptPatches(p.kv, new Set(wanted.filter((k) => !spare.has(k))))) spare.add(k);
    const keys = wanted.filter((k) => !spare.has(k));
    const ops: KvOp[] = [];
    let rawBytes = 0;
    for (let i = 0; i < keys.length; i += LOOKUP_SLICE) {
      const part = keys.slice(i, i + LOOKUP_SLICE);
      (await p.kv.getMany(part)).forEach((v, j) => {
        if (!v) return;
        ops.push({ type: 'del', key: part[j]! });
        rawBytes += decodeLocation(v).itemLen;
      });
    }
    const result = { blobs: ops.length, rawBytes, spared: wanted.length - keys.length };
    if (!ops.length) return result;
    const stats = await p.appender.stats();
    stats.blobs -= ops.length;
    stats.rawBytes -= rawBytes;
    await p.appender.writeBlobOps(ops, stats);
    p.blobs.forget(ops.map((o) => o.key));
    return result;
  });
}

/**
 * The keys of `remove` that a blob staying (not in `remove`) stored as a patch builds on,
 * directly or through other patches: removing one would leave the patch without its base.
 */
async function basesOfKeptPatches(kv: KvWriter, remove: Set<string>): Promise<Set<string>> {
  const baseOf = new Map<string, string>();
  for await (const [key, v] of kv.range(BLOB_KEYS)) {
    const base = decodeLocation(v).patch?.base;
    if (base && !base.equals(ZERO_ADDR)) baseOf.set(key, blobKey(base));
  }
  const keep = new Set<string>();
  for (const key of baseOf.keys()) {
    if (remove.has(key)) continue;
    // Down the chain while its bases were to go (a base that stays is walked from itself).
    for (let b = baseOf.get(key); b !== undefined && remove.has(b) && !keep.has(b); b = baseOf.get(b)) keep.add(b);
  }
  return keep;
}

/** One pack file's live blobs. */
interface PackLive {
  entries: { key: string; loc: BlobLocation }[];
  /** Their share of the bytes of the blocks that hold them (each block's bytes, headers included, in proportion of its raw bytes the live items take). */
  liveBytes: number;
}

/** See {@link JournalStore.compact}. */
export async function compactLocal(p: CompactionParts): Promise<CompactResult> {
  const result: CompactResult = { removed: 0, rewritten: 0, bytesCopied: 0, bytesFreed: 0 };
  // The pack file appends went to so far becomes a candidate too; every pack listed is
  // then closed (an append after this starts a new one, with a higher number).
  const packs = await p.appender.exclusive(async () => {
    await p.appender.finishPack();
    return listPacks(p.packsDir);
  });
  const live = await liveByPack(p.kv);
  for (const pack of packs) {
    if (pack === p.appender.openPack) continue;
    const path = packFileName(p.packsDir, pack);
    const size = (await stat(path)).size;
    const l = live.get(pack);
    if (l && l.liveBytes >= size * REWRITE_BELOW) continue;
    if (size === 0) continue;
    if (l) {
      result.bytesCopied += await copyLive(p, pack, l);
      result.rewritten++;
    }
    // Nothing refers to it now; the newest keeps its (empty) file so its number is not reused.
    await p.packs.forget(pack);
    if (pack === packs[packs.length - 1]) await truncate(path, 0);
    else await unlink(path);
    result.removed++;
    result.bytesFreed += size;
  }
  await p.appender.exclusive(async () => p.appender.writeBlobOps([], await p.blobs.countBlobs()));
  return result;
}

/** The live blobs of each pack file, from the `b/` entries. */
async function liveByPack(kv: KvWriter): Promise<Map<number, PackLive>> {
  const out = new Map<number, PackLive>();
  for await (const [key, v] of kv.range(BLOB_KEYS)) {
    const loc = decodeLocation(v);
    let l = out.get(loc.pack);
    if (!l) out.set(loc.pack, (l = { entries: [], liveBytes: 0 }));
    l.entries.push({ key, loc });
    l.liveBytes += ((BLOCK_HEADER + loc.clen) * loc.itemLen) / Math.max(1, loc.rawLen);
  }
  return out;
}

/**
 * Copies the live blobs of `pack` into the writer's current pack file, a step of
 * {@link STEP_BYTES} at a time, each in the writer's turn: blobs still in that pack are
 * read (and re-hashed), appended, synced, and their entries switched in one batch.
 * Returns the bytes copied.
 */
async function copyLive(p: CompactionParts, pack: number, l: PackLive): Promise<number> {
  const entries = [...l.entries].sort((a, b) => a.loc.offset - b.loc.offset || a.loc.itemOff - b.loc.itemOff);
  let copied = 0;
  for (let i = 0; i < entries.length;) {
    const step: string[] = [];
    for (let bytes = 0; i < entries.length && bytes < STEP_BYTES; i++) {
      step.push(entries[i]!.key);
      bytes += entries[i]!.loc.itemLen;
    }
    // The blobs are read (and re-hashed) before the writer's turn, appends going on meanwhile;
    // in the turn, only those still in this pack are copied (a read that failed, say of a
    // blob a removal took since the scan, is done again there).
    const early = await readStillIn(p, pack, step).catch(() => undefined);
    copied += await p.appender.exclusive(async () => {
      let { keys, data } = early ?? (await readStillIn(p, pack, step));
      const now = await p.kv.getMany(keys);
      const still = keys.map((_, j) => !!now[j] && decodeLocation(now[j]!).pack === pack);
      keys = keys.filter((_, j) => still[j]);
      data = data.filter((_, j) => still[j]);
      if (!keys.length) return 0;
      const groups: Buffer[][] = [];
      let group: Buffer[] = [];
      let groupBytes = 0;
      for (const d of data) {
        if (groupBytes + d.length > BLOCK_RAW_BYTES && group.length) {
          groups.push(group);
          group = [];
          groupBytes = 0;
        }
        group.push(d);
        groupBytes += d.length;
      }
      if (group.length) groups.push(group);
      const locs = (await p.appender.writeCopies(groups)).flat();
      const ops: KvOp[] = keys.map((key, j) => ({ type: 'put', key, value: encodeLocation(locs[j]!) }));
      await p.appender.writeBlobOps(ops, await p.appender.stats());
      for (const o of ops) if (o.type === 'put') p.blobs.placed(o.key, o.value);
      return data.reduce((a, d) => a + d.length, 0);
    });
  }
  return copied;
}

/** The blobs of `keys` still in `pack`, read back (and re-hashed), with their keys. */
async function readStillIn(p: CompactionParts, pack: number, keys: string[]): Promise<{ keys: string[]; data: Buffer[] }> {
  const now = await p.kv.getMany(keys);
  const still = keys.filter((_, j) => now[j] && decodeLocation(now[j]!).pack === pack);
  return { keys: still, data: await p.reader.getBlobs(still.map((k) => Buffer.from(k.slice(2), 'hex'))) };
}
