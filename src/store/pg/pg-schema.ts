/**
 * The PostgreSQL store's schema (documented in docs/stores.md). One database holds any
 * number of journals; every table is keyed by the journal's id first.
 *
 * - `ttj_schema`: the schema version (one row); this ttj reads exactly {@link PG_SCHEMA_VERSION}.
 * - `ttj_journal`: one row per journal: name, head (seq and hash), statistics. Appends
 *   lock the row (`FOR UPDATE`) and move the head in the same transaction.
 * - `ttj_event`: the events, primary key (journal, seq): a second writer can never
 *   store another event at a seq (the insert fails, the transaction rolls back).
 * - `ttj_block`: blob bytes in blocks of at most 1 MiB of items (../block-codec.ts),
 *   stored as they are (`STORAGE EXTERNAL`: already compressed, not compressed again).
 * - `ttj_blob`: where each blob is: (journal, addr) -> block, offset and length in it.
 * - `ttj_index`: the secondary index, keys in byte order (`COLLATE "C"`, as LevelDB).
 */
import type pg from 'pg';
import { ErrorCodes, TtjError } from '../../errors.js';

/** The schema version this ttj writes and reads. */
const PG_SCHEMA_VERSION = 1;

/** The channel a commit notifies with `journal-id:seq`. */
export const HEAD_CHANNEL = 'ttj_head';

const DDL = `
CREATE TABLE IF NOT EXISTS ttj_schema (version int NOT NULL);
CREATE TABLE IF NOT EXISTS ttj_journal (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  head_seq bigint NOT NULL DEFAULT -1,
  head_hash bytea,
  blobs bigint NOT NULL DEFAULT 0,
  raw_bytes bigint NOT NULL DEFAULT 0,
  stored_bytes bigint NOT NULL DEFAULT 0,
  synced_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ttj_event (
  journal int NOT NULL REFERENCES ttj_journal(id),
  seq bigint NOT NULL,
  bytes bytea NOT NULL,
  PRIMARY KEY (journal, seq)
);
CREATE TABLE IF NOT EXISTS ttj_block (
  id bigserial PRIMARY KEY,
  journal int NOT NULL REFERENCES ttj_journal(id),
  data bytea NOT NULL
);
ALTER TABLE ttj_block ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS ttj_blob (
  journal int NOT NULL REFERENCES ttj_journal(id),
  addr bytea NOT NULL,
  block bigint NOT NULL REFERENCES ttj_block(id),
  item_off int NOT NULL,
  item_len int NOT NULL,
  PRIMARY KEY (journal, addr)
);
CREATE INDEX IF NOT EXISTS ttj_blob_block ON ttj_blob (journal, block, item_off);
CREATE TABLE IF NOT EXISTS ttj_index (
  journal int NOT NULL REFERENCES ttj_journal(id),
  key text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (journal, key)
);
`;

/** Serializes schema creation between processes (an advisory transaction lock). */
const SCHEMA_LOCK = 0x74746a00;

/**
 * Creates the schema when missing (in one transaction, serialized between processes)
 * and checks its version.
 * @throws TtjError UNSUPPORTED_VERSION for a schema of another version.
 */
export async function ensureSchema(c: pg.ClientBase, display: string): Promise<void> {
  if ((await schemaVersion(c)) === undefined) {
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await c.query(DDL);
      const n = await c.query('SELECT count(*)::int AS n FROM ttj_schema');
      if (n.rows[0].n === 0) await c.query('INSERT INTO ttj_schema (version) VALUES ($1)', [PG_SCHEMA_VERSION]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
  await checkSchema(c, display);
}

/** The schema version in the database, or undefined when it has no ttj schema. */
async function schemaVersion(c: pg.ClientBase): Promise<number | undefined> {
  const t = await c.query(`SELECT to_regclass('ttj_schema') IS NOT NULL AS present`);
  if (!t.rows[0].present) return undefined;
  const r = await c.query('SELECT version FROM ttj_schema LIMIT 1');
  return r.rows.length ? Number(r.rows[0].version) : undefined;
}

/**
 * Refuses a database whose ttj schema is of another version.
 * @throws TtjError UNSUPPORTED_VERSION; NOT_A_JOURNAL when the database has no ttj schema.
 */
export async function checkSchema(c: pg.ClientBase, display: string): Promise<void> {
  const v = await schemaVersion(c);
  if (v === undefined) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `no journal at ${display} (the database holds no ttj journals)`, { location: display });
  if (v !== PG_SCHEMA_VERSION) {
    throw new TtjError(ErrorCodes.UNSUPPORTED_VERSION, `${display} holds ttj journals of store schema version ${v}; this ttj reads version ${PG_SCHEMA_VERSION}`, {
      location: display,
      expected: PG_SCHEMA_VERSION,
      actual: v,
    });
  }
}
