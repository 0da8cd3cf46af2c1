/**
 * The replicated store: a journal in a PostgreSQL database (schema: ./pg-schema.ts,
 * docs/stores.md), opened by a `postgres://...?journal=NAME` location (./pg-location.ts).
 * One transaction per append, so a commit is visible whole or not at all, on the
 * primary and (with a synchronous standby) on the standby; readers read while a writer
 * writes; a writer holds an advisory lock for its session, and the events' primary key
 * (journal, seq) refuses any second writer's event at a taken seq.
 */
import type pg from 'pg';
import { ErrorCodes, isTtjError, TtjError } from '../../errors.js';
import { sha256 } from '../../util/hash.js';
import { encodeBlock } from '../block-codec.js';
import type { JournalCipher } from '../cipher.js';
import { deletePgKey, insertPgKey } from './pg-key.js';
import { notOfSize, putBlob } from '../blob-target.js';
import { watchHeadWith, type WatchHeadOptions } from '../head-watch.js';
import type {
  AppendBatch,
  AppendResult,
  BlobPut,
  CompactResult,
  IndexEntry,
  IndexRange,
  JournalStore,
  BlobTarget,
  ReadIntoOptions,
  RemoveBlobsOptions,
  RemovedBlobs,
  StoreHead,
  StoreStats,
  StoredEvent,
} from '../store.js';
import { deleteDeadBlocks, removePgBlobs, sparseBlockSteps, vacuumBlobTables } from './pg-blob-removal.js';
import { PgBlobIndex, type PgBlobLocation } from './pg-blob-index.js';
import { PgBlobReader } from './pg-blob-reader.js';
import { closeClient, closePool, connectClient, dropClient, makePool } from './pg-connect.js';
import { isConnectionLoss, isTimeout, toStoreError } from './pg-errors.js';
import { parsePgLocation, type PgLocation } from './pg-location.js';
import { queryable, type Queryable } from './pg-query.js';
import { PgRequestServer } from './pg-request-server.js';
import { notifyAll, requestChannel } from './pg-request-wire.js';
import { checkSchema, ensureSchema, HEAD_CHANNEL } from './pg-schema.js';
import { PgWriterSession } from './pg-writer-session.js';

/** Raw bytes of blob items per block (as the embedded store's pack blocks). */
const PG_BLOCK_RAW_BYTES = 1024 * 1024;
/** Rows sent per statement for events, blob locations and index entries. */
const ROWS_PER_STATEMENT = 2000;

/** Options of {@link PgStore.open}. */
export interface PgStoreOptions {
  /** Open for writing (takes the writer lock). Default false. */
  write?: boolean;
  /** Create the journal (and the schema) when missing (implies write). Default false. */
  create?: boolean;
  /** Names the writer (in pg_stat_activity and to a second writer). Default "ttj". */
  command?: string;
  /** zstd level for blob blocks. Default 1. */
  compressionLevel?: number;
  /** Open a damaged index to rebuild it (`ttj repair`): the head is not checked against the events. Default false. */
  repair?: boolean;
  /** An encrypted journal's cipher (`openStore` unlocks it from the key row): blocks are sealed with it. */
  cipher?: JournalCipher;
  /** With `create`: make the journal encrypted, with this key file (../cipher-keys.ts). */
  keyFile?: Buffer;
}

/** True when the database at `location` holds the journal it names (false also when the server cannot say: no schema, no database). */
export async function pgJournalExists(location: string): Promise<boolean> {
  const loc = parsePgLocation(location);
  const c = await connectClient(loc, 'ttj');
  try {
    const t = await c.query(`SELECT to_regclass('ttj_journal') IS NOT NULL AS present`);
    if (!t.rows[0].present) return false;
    return (await c.query('SELECT 1 FROM ttj_journal WHERE name = $1', [loc.journal])).rows.length > 0;
  } catch (e) {
    throw toStoreError(e, loc.display, 'looking for the journal');
  } finally {
    await closeClient(c);
  }
}

/**
 * Deletes a journal and everything of it from its database (nothing else deletes rows).
 * @throws TtjError LOCKED when a writer holds it; STORE_UNAVAILABLE.
 */
export async function dropPgJournal(location: string): Promise<void> {
  const store = await PgStore.open(location, { write: true, repair: true, command: 'ttj (removing a journal)' }).catch((e: unknown) => {
    if (e instanceof TtjError && e.code === ErrorCodes.NOT_A_JOURNAL) return undefined;
    throw e;
  });
  await store?.drop();
}

export class PgStore implements JournalStore {
  readonly location: string;
  private readonly db: Queryable;
  private readonly blobIndex: PgBlobIndex;
  private readonly reader: PgBlobReader;
  private appending: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The writer's head and statistics as its last append left them (undefined: ask the database). */
  private known: { head: StoreHead | undefined; stats: StoreStats } | undefined;
  /** Whether the writer has checked that no event is stored past the head. */
  private checkedTail = false;

  private constructor(
    private readonly loc: PgLocation,
    private readonly pool: pg.Pool,
    private readonly journalId: number,
    private readonly session: PgWriterSession | undefined,
    private readonly compressionLevel: number,
    private readonly cipher: JournalCipher | undefined,
  ) {
    // Without its password: the location shows in messages, output and a fork's header.
    this.location = loc.display;
    this.db = queryable(pool, loc.display);
    this.blobIndex = new PgBlobIndex(this.db, journalId, this.writable);
    this.reader = new PgBlobReader(this.db, journalId, cipher);
  }

  get writable(): boolean {
    return this.session !== undefined;
  }

  /**
   * Opens the journal `location` names.
   * @throws TtjError BAD_ARGUMENT (the location), NOT_A_JOURNAL, UNSUPPORTED_VERSION, LOCKED, CORRUPT_STORE, STORE_UNAVAILABLE, STORE_TIMEOUT, PERMISSION.
   */
  static async open(location: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const loc = parsePgLocation(location);
    const command = opts.command ?? 'ttj';
    const pool = makePool(loc, command);
    let session: PgWriterSession | undefined;
    try {
      const id = await openJournalRow(pool, loc, !!opts.create, opts.keyFile);
      if (opts.write || opts.create) session = await PgWriterSession.acquire(loc, id, command);
      const store = new PgStore(loc, pool, id, session, opts.compressionLevel ?? 1, opts.cipher);
      if (!opts.repair) await store.checkHead();
      return store;
    } catch (e) {
      await session?.close().catch(() => undefined);
      await closePool(pool);
      throw toStoreError(e, loc.display, 'opening the journal');
    }
  }

  /**
   * The head must name the last stored event (an append builds on it).
   * @throws TtjError CORRUPT_STORE.
   */
  private async checkHead(): Promise<void> {
    const last = await this.lastStoredEvent();
    const head = await this.readHead();
    // A reader beside a live writer may see a commit land between the two reads (the head then ahead).
    const sound = !last ? !head || !this.writable : head !== undefined && (this.writable ? head.seq === last.seq && head.hash.equals(last.hash) : head.seq >= last.seq);
    if (sound) return;
    throw new TtjError(
      ErrorCodes.CORRUPT_STORE,
      `the journal's index is damaged: its head ${head ? `names event ${head.seq}` : 'is missing'} but ${last ? `events 0..${last.seq} are stored` : 'no event is stored'} (ttj repair rebuilds the index from the events)`,
      { location: this.loc.display, expected: last ? last.seq : -1, actual: head ? head.seq : -1 },
    );
  }

  /** The head and statistics row, as the database has it. */
  private async readRow(): Promise<{ head: StoreHead | undefined; stats: StoreStats }> {
    const rows = await this.db.query('SELECT head_seq, head_hash, blobs, raw_bytes, stored_bytes FROM ttj_journal WHERE id = $1', [this.journalId], 'reading the head');
    const r = rows[0];
    if (!r) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `the journal ${this.loc.display} is gone`, { location: this.loc.display });
    return rowState(r);
  }

  private async readHead(): Promise<StoreHead | undefined> {
    return (await this.readRow()).head;
  }

  async head(): Promise<StoreHead | undefined> {
    if (this.known) return this.known.head && { seq: this.known.head.seq, hash: Buffer.from(this.known.head.hash) };
    return this.readHead();
  }

  async lastStoredEvent(): Promise<StoreHead | undefined> {
    const rows = await this.db.query('SELECT seq, bytes FROM ttj_event WHERE journal = $1 ORDER BY seq DESC LIMIT 1', [this.journalId], 'reading the last event');
    const r = rows[0];
    return r ? { seq: Number(r.seq), hash: sha256(r.bytes as Buffer) } : undefined;
  }

  append(batch: AppendBatch): Promise<AppendResult> {
    const run = this.appending.then(() => this.appendResolved(batch));
    this.appending = run.catch(() => undefined);
    return run;
  }

  /**
   * One append, its outcome settled: when the connection is lost during it (during the
   * commit, say), the session reconnects and the head tells whether it landed; if it
   * did not, it is tried once more. So an append that resolves is stored exactly once.
   * @throws TtjError STORE_UNAVAILABLE / STORE_TIMEOUT when the server cannot tell (the
   *   next open reads the head as it is); WRONG_EXPECTED_HEAD, READ_ONLY, BAD_ARGUMENT.
   */
  private async appendResolved(batch: AppendBatch): Promise<AppendResult> {
    const session = this.session;
    if (!session) throw new TtjError(ErrorCodes.READ_ONLY, `the journal ${this.loc.display} is open read-only`);
    if (batch.events.length === 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'an append needs at least one event');
    const target: StoreHead = { seq: batch.expectedHead + batch.events.length, hash: sha256(batch.events[batch.events.length - 1]!) };
    for (let attempt = 0; ; attempt++) {
      try {
        if (!session.healthy) await this.resume();
        return await this.appendOnce(batch);
      } catch (e) {
        if (!isConnectionLoss(e) || isTimeout(e)) {
          this.forget();
          throw toStoreError(e, this.loc.display, 'appending');
        }
        this.forget();
        // The outcome is unknown: ask the server, on a new session, whether it landed.
        try {
          await this.resume();
        } catch (e2) {
          throw toStoreError(e2, this.loc.display, `appending (the connection was lost during the append of events ${batch.expectedHead + 1}..${target.seq}; whether it landed is known once the server is back)`);
        }
        const now = await this.readRow();
        if (now.head && now.head.seq === target.seq && now.head.hash.equals(target.hash)) {
          this.known = now;
          return { head: target, newBlobs: 0, newBytes: 0, storedBytes: 0 };
        }
        const at = now.head ? now.head.seq : -1;
        if (at !== batch.expectedHead || attempt >= 1) throw toStoreError(e, this.loc.display, 'appending');
      }
    }
  }

  /** A new writer session after a lost one (waiting for the server to release the old session's lock). */
  private async resume(): Promise<void> {
    await this.session!.reconnect();
    this.checkedTail = false;
  }

  /** Forgets the cached head and blob knowledge (after an append that failed). */
  private forget(): void {
    this.known = undefined;
    this.blobIndex.clear();
  }

  /** One append in one transaction on the writer's session. */
  private async appendOnce(batch: AppendBatch): Promise<AppendResult> {
    const c = this.session!.client;
    const q = queryable(c, this.loc.display);
    await c.query('BEGIN');
    try {
      // Every commit is synchronous, also an append made with `sync: false` (an NBD group
      // commit): what ttj acknowledges must be on the standby when the primary is lost.
      const row = rowState((await q.query('SELECT head_seq, head_hash, blobs, raw_bytes, stored_bytes FROM ttj_journal WHERE id = $1 FOR UPDATE', [this.journalId], 'locking the head'))[0]!);
      const headSeq = row.head ? row.head.seq : -1;
      // Fewer blobs than this writer left: a prune removed some, so what it remembers as stored may be gone.
      if (this.known && row.stats.blobs < this.known.stats.blobs) this.blobIndex.clear();
      if (headSeq !== batch.expectedHead) {
        throw new TtjError(ErrorCodes.WRONG_EXPECTED_HEAD, `append expected head ${batch.expectedHead} but the head is ${headSeq}`, { expected: batch.expectedHead, actual: headSeq });
      }
      if (!this.checkedTail) {
        const past = await q.query('SELECT 1 FROM ttj_event WHERE journal = $1 AND seq > $2 LIMIT 1', [this.journalId, headSeq], 'checking the head');
        if (past.length) throw new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: events are stored beyond its head ${headSeq} (ttj repair rebuilds the index)`, { seq: headSeq + 1 });
      }
      const fresh = await this.newBlobs(batch.blobs ?? []);
      await this.checkRelied(q, batch.relies ?? [], batch.blobs ?? []);
      const { placed, newBytes, storedBytes } = await this.writeBlobs(q, fresh);
      await this.insertEvents(q, batch.expectedHead + 1, batch.events);
      const index = typeof batch.index === 'function' ? batch.index({ newBlobs: fresh.length, newBytes, storedBytes }) : (batch.index ?? []);
      await this.putIndex(q, index);
      const head: StoreHead = { seq: batch.expectedHead + batch.events.length, hash: sha256(batch.events[batch.events.length - 1]!) };
      const stats: StoreStats = { blobs: row.stats.blobs + fresh.length, rawBytes: row.stats.rawBytes + newBytes, storedBytes: row.stats.storedBytes + storedBytes };
      await q.query(
        'UPDATE ttj_journal SET head_seq = $2, head_hash = $3, blobs = $4, raw_bytes = $5, stored_bytes = $6 WHERE id = $1',
        [this.journalId, head.seq, head.hash, stats.blobs, stats.rawBytes, stats.storedBytes],
        'moving the head',
      );
      await q.query('SELECT pg_notify($1, $2)', [HEAD_CHANNEL, `${this.journalId}:${head.seq}`], 'notifying');
      await c.query('COMMIT');
      this.checkedTail = true;
      this.known = { head, stats };
      this.blobIndex.placed(placed);
      return { head, newBlobs: fresh.length, newBytes, storedBytes };
    } catch (e) {
      // A stalled server would stall the ROLLBACK too: the connection is dropped instead (the server rolls back when it sees it gone).
      if (isTimeout(e)) await this.session!.abandon();
      else if (this.session!.healthy) await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /**
   * The blobs a batch names without giving must be stored (a prune may have removed one
   * since the writer looked); read under the row lock, so no removal runs meanwhile.
   * @throws TtjError CORRUPT_BLOB.
   */
  private async checkRelied(q: Queryable, relies: Buffer[], given: BlobPut[]): Promise<void> {
    const givenKeys = new Set(given.map((b) => b.addr.toString('hex')));
    const need = [...new Map(relies.filter((a) => !givenKeys.has(a.toString('hex'))).map((a) => [a.toString('hex'), a])).values()];
    if (!need.length) return;
    const rows = await q.query('SELECT addr FROM ttj_blob WHERE journal = $1 AND addr = ANY($2::bytea[])', [this.journalId, need], 'checking named blobs');
    const have = new Set(rows.map((r) => (r.addr as Buffer).toString('hex')));
    const lost = need.find((a) => !have.has(a.toString('hex')));
    if (lost) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${lost.toString('hex')} is named but no longer stored (a prune removed it); nothing was appended`, { addr: lost.toString('hex') });
  }

  removeBlobs(addrs: Buffer[], opts: RemoveBlobsOptions): Promise<RemovedBlobs> {
    return this.underRowLock('removing blobs', (q) => removePgBlobs(q, this.journalId, addrs, opts));
  }

  async compact(): Promise<CompactResult> {
    const r = await this.underRowLock('removing blocks', (q) => deleteDeadBlocks(q, this.journalId));
    for (const step of await sparseBlockSteps(this.db, this.journalId)) {
      const s = await this.underRowLock('rewriting blocks', (q) => this.rewriteBlocks(q, step));
      r.rewritten += step.length;
      r.removed += step.length;
      r.bytesCopied += s.bytesCopied;
      r.bytesFreed += s.bytesFreed;
    }
    await vacuumBlobTables(this.pool).catch((e: unknown) => {
      throw toStoreError(e, this.loc.display, 'vacuuming');
    });
    return r;
  }

  /**
   * In a transaction holding the row lock: copies the blobs still in `blocks` into new
   * blocks (read back and re-hashed), moves their rows there, and deletes `blocks`.
   */
  private async rewriteBlocks(q: Queryable, blocks: number[]): Promise<{ bytesCopied: number; bytesFreed: number }> {
    const rows = await q.query('SELECT addr, block, item_off, item_len FROM ttj_blob WHERE journal = $1 AND block = ANY($2::bigint[])', [this.journalId, blocks], 'reading blob locations');
    const addrs = rows.map((r) => r.addr as Buffer);
    const data: Buffer[] = [];
    const locs = rows.map((r) => ({ block: Number(r.block), itemOff: Number(r.item_off), itemLen: Number(r.item_len) }));
    if (addrs.length) await this.reader.read(addrs, locs, (i, d) => (data[i] = Buffer.from(d)), true);
    await q.query('DELETE FROM ttj_blob WHERE journal = $1 AND block = ANY($2::bigint[])', [this.journalId, blocks], 'moving blobs');
    const { storedBytes } = await this.writeBlobs(
      q,
      addrs.map((addr, i) => ({ addr, data: data[i]! })),
    );
    const gone = await q.query('DELETE FROM ttj_block WHERE journal = $1 AND id = ANY($2::bigint[]) RETURNING length(data) AS n', [this.journalId, blocks], 'removing blocks');
    const bytesFreed = gone.reduce((n, r) => n + Number(r.n), 0);
    await q.query('UPDATE ttj_journal SET stored_bytes = stored_bytes + $2 - $3 WHERE id = $1', [this.journalId, storedBytes, bytesFreed], 'counting the blocks');
    return { bytesCopied: data.reduce((n, d) => n + d.length, 0), bytesFreed };
  }

  /**
   * Runs `fn` in one transaction of the writer's session that holds the journal's row lock
   * (as appends do), in the writer's turn; forgets cached blob knowledge after.
   * @throws TtjError READ_ONLY for readers.
   */
  private underRowLock<T>(what: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    if (!this.session) throw new TtjError(ErrorCodes.READ_ONLY, `the journal ${this.loc.display} is open read-only`);
    const run = this.appending.then(async () => {
      const c = this.session!.client;
      const q = queryable(c, this.loc.display);
      await c.query('BEGIN');
      try {
        await q.query('SELECT 1 FROM ttj_journal WHERE id = $1 FOR UPDATE', [this.journalId], 'locking the head');
        const r = await fn(q);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw toStoreError(e, this.loc.display, what);
      } finally {
        this.forget();
      }
    });
    this.appending = run.catch(() => undefined);
    return run;
  }

  /** The blobs of `blobs` the journal does not have yet (deduplicated). */
  private async newBlobs(blobs: BlobPut[]): Promise<BlobPut[]> {
    const unique = new Map<string, BlobPut>();
    for (const b of blobs) if (!unique.has(b.addr.toString('hex'))) unique.set(b.addr.toString('hex'), b);
    const list = [...unique.values()];
    const have = list.length ? await this.blobIndex.lookup(list.map((b) => b.addr)) : [];
    return list.filter((_, i) => !have[i]);
  }

  /** Writes `fresh` in blocks of at most {@link PG_BLOCK_RAW_BYTES} and their locations. */
  private async writeBlobs(q: Queryable, fresh: BlobPut[]): Promise<{ placed: [string, PgBlobLocation][]; newBytes: number; storedBytes: number }> {
    const groups: BlobPut[][] = [];
    let group: BlobPut[] = [];
    let bytes = 0;
    let newBytes = 0;
    for (const b of fresh) {
      if (bytes + b.data.length > PG_BLOCK_RAW_BYTES && group.length) {
        groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push(b);
      bytes += b.data.length;
      newBytes += b.data.length;
    }
    if (group.length) groups.push(group);
    const placed: [string, PgBlobLocation][] = [];
    let storedBytes = 0;
    if (!groups.length) return { placed, newBytes, storedBytes };
    const ids = (await q.query('SELECT nextval(pg_get_serial_sequence($1, $2)) AS id FROM generate_series(1, $3)', ['ttj_block', 'id', groups.length], 'numbering blocks')).map((r) => Number(r.id));
    for (let g = 0; g < groups.length; g++) {
      const items = groups[g]!.map((b) => b.data);
      const enc = encodeBlock(items, this.compressionLevel, this.cipher && { cipher: this.cipher, place: `block ${ids[g]}` });
      const data = Buffer.concat([enc.head, ...enc.body]);
      storedBytes += data.length;
      await q.query('INSERT INTO ttj_block (id, journal, data) VALUES ($1, $2, $3)', [ids[g], this.journalId, data], 'writing blob bytes');
      let off = 0;
      for (const b of groups[g]!) {
        placed.push([b.addr.toString('hex'), { block: ids[g]!, itemOff: off, itemLen: b.data.length }]);
        off += b.data.length;
      }
    }
    for (let i = 0; i < placed.length; i += ROWS_PER_STATEMENT) {
      const part = placed.slice(i, i + ROWS_PER_STATEMENT);
      await q.query(
        'INSERT INTO ttj_blob (journal, addr, block, item_off, item_len) SELECT $1, * FROM unnest($2::bytea[], $3::bigint[], $4::int[], $5::int[])',
        [this.journalId, part.map(([k]) => Buffer.from(k, 'hex')), part.map(([, l]) => l.block), part.map(([, l]) => l.itemOff), part.map(([, l]) => l.itemLen)],
        'writing blob locations',
      );
    }
    return { placed, newBytes, storedBytes };
  }

  private async insertEvents(q: Queryable, first: number, events: Uint8Array[]): Promise<void> {
    for (let i = 0; i < events.length; i += ROWS_PER_STATEMENT) {
      const part = events.slice(i, i + ROWS_PER_STATEMENT).map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength));
      await q.query('INSERT INTO ttj_event (journal, seq, bytes) SELECT $1, $2::bigint + o - 1, b FROM unnest($3::bytea[]) WITH ORDINALITY AS t(b, o)', [this.journalId, first + i, part], 'writing events');
    }
  }

  /** Upserts index entries (the last of a key given twice wins, as in a LevelDB batch). */
  private async putIndex(q: Queryable, entries: IndexEntry[]): Promise<void> {
    const byKey = new Map<string, Buffer>();
    for (const e of entries) byKey.set(e.key, e.value);
    const all = [...byKey];
    for (let i = 0; i < all.length; i += ROWS_PER_STATEMENT) {
      const part = all.slice(i, i + ROWS_PER_STATEMENT);
      await q.query(
        'INSERT INTO ttj_index (journal, key, value) SELECT $1, * FROM unnest($2::text[], $3::bytea[]) ON CONFLICT (journal, key) DO UPDATE SET value = EXCLUDED.value',
        [this.journalId, part.map(([k]) => k), part.map(([, v]) => v)],
        'writing index entries',
      );
    }
  }

  async *readEventBatches(from: number, to?: number, batchSize = 512): AsyncIterable<StoredEvent[]> {
    if (to === undefined) {
      const h = await this.head();
      to = h ? h.seq + 1 : 0;
    }
    let expect = from;
    while (expect < to) {
      const rows = await this.db.query('SELECT seq, bytes FROM ttj_event WHERE journal = $1 AND seq >= $2 AND seq < $3 ORDER BY seq LIMIT $4', [this.journalId, expect, to, batchSize], 'reading events');
      if (!rows.length) break;
      const batch: StoredEvent[] = [];
      for (const r of rows) {
        const seq = Number(r.seq);
        if (seq !== expect) break;
        batch.push({ seq, bytes: r.bytes as Buffer });
        expect++;
      }
      if (batch.length) yield batch;
      if (batch.length < rows.length) break;
    }
    if (expect < to) throw new TtjError(ErrorCodes.CORRUPT_EVENT, `event ${expect} is missing from the store`, { seq: expect });
  }

  async *readEvents(from: number, to?: number): AsyncIterable<StoredEvent> {
    for await (const b of this.readEventBatches(from, to)) yield* b;
  }

  async prefetchBlobs(addrs: Buffer[]): Promise<void> {
    await this.blobIndex.lookup(addrs);
  }

  async hasBlobs(addrs: Buffer[]): Promise<boolean[]> {
    return Array.from(await this.blobIndex.lookup(addrs), (l) => l !== undefined);
  }

  async blobSizes(addrs: Buffer[]): Promise<(number | undefined)[]> {
    return Array.from(await this.blobIndex.lookup(addrs), (l) => l?.itemLen);
  }

  async rebuildIndex(head: StoreHead, index: IndexEntry[]): Promise<void> {
    await this.underRowLock('rebuilding the index', async (q) => {
      const last = await this.lastStoredEvent();
      if (!last || last.seq !== head.seq || !last.hash.equals(head.hash)) {
        throw new TtjError(ErrorCodes.CORRUPT_EVENT, `a rebuilt head must be the last stored event (${last ? last.seq : 'none'})`, { expected: last?.seq ?? -1, actual: head.seq });
      }
      await q.query('DELETE FROM ttj_index WHERE journal = $1', [this.journalId], 'clearing the index');
      await this.putIndex(q, index);
      await q.query(
        `UPDATE ttj_journal SET head_seq = $2, head_hash = $3,
           blobs = (SELECT count(*) FROM ttj_blob WHERE journal = $1),
           raw_bytes = (SELECT coalesce(sum(item_len), 0) FROM ttj_blob WHERE journal = $1),
           stored_bytes = (SELECT coalesce(sum(length(data)), 0) FROM ttj_block WHERE journal = $1)
         WHERE id = $1`,
        [this.journalId, head.seq, head.hash],
        'rebuilding the head',
      );
    });
    this.checkedTail = false;
  }

  async getBlobs(addrs: Buffer[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    const out = new Array<Buffer>(addrs.length);
    await this.readBlobs(addrs, (i, data) => (out[i] = Buffer.from(data)), opts);
    return out;
  }

  async readBlobs(addrs: Buffer[], onBlob: (index: number, data: Buffer) => void, opts: { verify?: boolean } = {}): Promise<void> {
    await this.retryMoved(async () => this.reader.read(addrs, await this.locate(addrs), onBlob, opts.verify !== false));
  }

  async readBlobsInto(addrs: Buffer[], target: BlobTarget, at: number[], opts: ReadIntoOptions = {}): Promise<void> {
    const put = (i: number, data: Buffer) => {
      if (opts.size !== undefined && data.length !== opts.size) throw notOfSize(addrs[i]!, data.length, opts.size);
      putBlob(target, data, at[i]!);
    };
    await this.retryMoved(async () => this.reader.read(addrs, await this.locate(addrs), put, opts.verify === true));
  }

  /** Runs a read again, once, with fresh locations when it failed: a prune's compaction may have moved the blobs after they were looked up. */
  private async retryMoved(read: () => Promise<void>): Promise<void> {
    try {
      await read();
    } catch (e) {
      if (!isTtjError(e) || e.code !== ErrorCodes.CORRUPT_BLOB) throw e;
      this.blobIndex.clear();
      await read();
    }
  }

  /**
   * Each blob's location.
   * @throws TtjError CORRUPT_BLOB naming the first blob the journal does not have.
   */
  private async locate(addrs: Buffer[]): Promise<PgBlobLocation[]> {
    const locs = await this.blobIndex.lookup(addrs);
    return locs.map((l, i) => {
      if (!l) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `blob ${addrs[i]!.toString('hex')} is not in the store`, { addr: addrs[i]!.toString('hex') });
      return l;
    });
  }

  async sync(): Promise<void> {
    if (!this.session) return;
    const run = this.appending.then(async () => {
      // A synchronous commit flushes the write-ahead log, and with it every earlier asynchronous commit.
      await queryable(this.session!.client, this.loc.display).query('UPDATE ttj_journal SET synced_at = now() WHERE id = $1', [this.journalId], 'syncing');
    });
    this.appending = run.catch(() => undefined);
    return run;
  }

  async *listBlobs(): AsyncIterable<Buffer> {
    let after: [number, number] = [-1, -1];
    for (;;) {
      const rows = await this.db.query(
        'SELECT addr, block, item_off FROM ttj_blob WHERE journal = $1 AND (block, item_off) > ($2, $3) ORDER BY block, item_off LIMIT 10000',
        [this.journalId, after[0], after[1]],
        'listing blobs',
      );
      if (!rows.length) return;
      for (const r of rows) yield r.addr as Buffer;
      const last = rows[rows.length - 1]!;
      after = [Number(last.block), last.item_off as number];
    }
  }

  async readAllBlobs(onBlob: (addr: Buffer, data: Buffer) => void): Promise<void> {
    let batch: Buffer[] = [];
    const flush = async () => {
      const addrs = batch;
      batch = [];
      await this.readBlobs(addrs, (i, data) => onBlob(addrs[i]!, data));
    };
    for await (const addr of this.listBlobs()) {
      batch.push(addr);
      if (batch.length >= 4096) await flush();
    }
    if (batch.length) await flush();
  }

  watchHead(after: number, opts: WatchHeadOptions = {}): AsyncIterable<StoreHead> {
    // Woken by the commits' NOTIFY; the safety check covers a lost LISTEN session.
    const subscribe = async (poke: () => void) => {
      let c: (pg.Client & { broken?: boolean }) | undefined;
      try {
        c = await connectClient(this.loc, 'ttj watch');
        c.on('notification', (n) => {
          if (n.payload?.startsWith(`${this.journalId}:`)) poke();
        });
        await c.query(`LISTEN ${HEAD_CHANNEL}`);
      } catch {
        /* the safety check alone */
      }
      return async () => {
        if (c) await dropClient(c);
      };
    };
    return watchHeadWith(
      subscribe,
      () => this.head(),
      after,
      () => this.closed,
      opts,
    );
  }

  async indexGet(key: string): Promise<Buffer | undefined> {
    const rows = await this.db.query('SELECT value FROM ttj_index WHERE journal = $1 AND key = $2', [this.journalId, key], 'reading the index');
    return rows[0]?.value as Buffer | undefined;
  }

  async *indexRange(range: IndexRange): AsyncIterable<[string, Buffer]> {
    const page = 1000;
    let left = range.limit ?? Infinity;
    let cursor: string | undefined;
    for (;;) {
      const conds = ['journal = $1'];
      const values: unknown[] = [this.journalId];
      const add = (op: string, v: string) => {
        values.push(v);
        conds.push(`key ${op} $${values.length}`);
      };
      if (range.gte !== undefined) add('>=', range.gte);
      if (range.lt !== undefined) add('<', range.lt);
      if (range.lte !== undefined) add('<=', range.lte);
      if (cursor !== undefined) add(range.reverse ? '<' : '>', cursor);
      const n = Math.min(page, left);
      values.push(n);
      const rows = await this.db.query(`SELECT key, value FROM ttj_index WHERE ${conds.join(' AND ')} ORDER BY key ${range.reverse ? 'DESC' : 'ASC'} LIMIT $${values.length}`, values, 'reading the index');
      for (const r of rows) yield [r.key as string, r.value as Buffer];
      left -= rows.length;
      if (rows.length < n || left <= 0) return;
      cursor = rows[rows.length - 1]!.key as string;
    }
  }

  async stats(): Promise<StoreStats> {
    if (this.known) return { ...this.known.stats };
    return (await this.readRow()).stats;
  }

  /**
   * Serves requests of other processes (`ttj prune` asks the live writer to prune) on the
   * journal's request channel, from the writer's session (./pg-request-server.ts).
   * @throws TtjError STORE_UNAVAILABLE, STORE_TIMEOUT.
   */
  async serveRequests(handler: (name: string, args: unknown) => Promise<unknown>): Promise<void> {
    const session = this.session;
    if (!session) return;
    const server = new PgRequestServer({
      handler,
      mayAsk: (pid) => this.mayWrite(pid),
      send: (channel, payloads) => this.inTurn(() => notifyAll(queryable(session.client, this.loc.display), channel, payloads)),
    });
    await this.inTurn(() => session.listen(requestChannel(this.journalId), (payload, pid) => server.receive(payload, pid))).catch((e: unknown) => {
      throw toStoreError(e, this.loc.display, 'listening for requests');
    });
  }

  /** Runs `fn` in the writer's turn (between appends, on the writer's session). */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.appending.then(fn);
    this.appending = run.catch(() => undefined);
    return run;
  }

  /** Whether the role of the session with server pid `pid` may write this journal (insert events, delete blob rows). */
  private async mayWrite(pid: number): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT has_table_privilege(usesysid, 'ttj_event', 'INSERT') AND has_table_privilege(usesysid, 'ttj_blob', 'DELETE') AS ok FROM pg_stat_activity WHERE pid = $1`,
      [pid],
      'checking who asks',
    );
    return rows[0]?.ok === true;
  }

  /** Deletes the journal's rows in one transaction, then closes (see {@link dropPgJournal}). */
  async drop(): Promise<void> {
    const c = this.session!.client;
    await c.query('BEGIN');
    try {
      await deletePgKey(c, this.journalId);
      for (const t of ['ttj_index', 'ttj_event', 'ttj_blob', 'ttj_block']) await c.query(`DELETE FROM ${t} WHERE journal = $1`, [this.journalId]);
      await c.query('DELETE FROM ttj_journal WHERE id = $1', [this.journalId]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw toStoreError(e, this.loc.display, 'removing the journal');
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.appending;
    } finally {
      await this.session?.close().catch(() => undefined);
      await closePool(this.pool);
    }
  }
}

/** The journal's id, the journal (and the schema) made first when `create`. */
async function openJournalRow(pool: pg.Pool, loc: PgLocation, create: boolean, keyFile: Buffer | undefined): Promise<number> {
  let c: pg.PoolClient;
  try {
    c = await pool.connect();
  } catch (e) {
    throw toStoreError(e, loc.display, 'connecting');
  }
  try {
    if (create) {
      await ensureSchema(c, loc.display);
      await c.query('INSERT INTO ttj_journal (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [loc.journal]);
    } else await checkSchema(c, loc.display);
    const r = await c.query('SELECT id FROM ttj_journal WHERE name = $1', [loc.journal]);
    if (!r.rows.length) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `no journal at ${loc.display}`, { location: loc.display });
    if (create && keyFile) await insertPgKey(c, Number(r.rows[0].id), keyFile);
    return Number(r.rows[0].id);
  } catch (e) {
    throw toStoreError(e, loc.display, 'opening the journal');
  } finally {
    c.release();
  }
}

/** The head and statistics of a `ttj_journal` row. */
function rowState(r: Record<string, unknown>): { head: StoreHead | undefined; stats: StoreStats } {
  const seq = Number(r.head_seq);
  return {
    head: seq >= 0 && r.head_hash ? { seq, hash: Buffer.from(r.head_hash as Buffer) } : undefined,
    stats: { blobs: Number(r.blobs), rawBytes: Number(r.raw_bytes), storedBytes: Number(r.stored_bytes) },
  };
}
