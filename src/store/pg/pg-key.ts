/**
 * An encrypted PostgreSQL journal's key file (../cipher-keys.ts): one row of `ttj_key`
 * (journal, data), made with the journal. The table is made when the first encrypted
 * journal is (an older database's schema lacks it: its journals are all plain).
 */
import type pg from 'pg';
import { ErrorCodes, TtjError } from '../../errors.js';
import { closeClient, connectClient } from './pg-connect.js';
import { toStoreError } from './pg-errors.js';
import { parsePgLocation } from './pg-location.js';

const KEY_DDL = 'CREATE TABLE IF NOT EXISTS ttj_key (journal int PRIMARY KEY REFERENCES ttj_journal(id), data bytea NOT NULL)';

async function hasKeyTable(c: pg.ClientBase): Promise<boolean> {
  return (await c.query(`SELECT to_regclass('ttj_key') IS NOT NULL AS present`)).rows[0].present === true;
}

/** Stores the key file of the new journal `journalId` (making the table when missing). */
export async function insertPgKey(c: pg.ClientBase, journalId: number, keyFile: Buffer): Promise<void> {
  await c.query(KEY_DDL);
  await c.query('INSERT INTO ttj_key (journal, data) VALUES ($1, $2) ON CONFLICT (journal) DO NOTHING', [journalId, keyFile]);
}

/** Deletes the key row of `journalId`, if any (removing a journal). */
export async function deletePgKey(c: pg.ClientBase, journalId: number): Promise<void> {
  if (await hasKeyTable(c)) await c.query('DELETE FROM ttj_key WHERE journal = $1', [journalId]);
}

/** The key file of the journal `location` names, or undefined for a plain journal (or none). */
export async function readPgKeyFile(location: string): Promise<Buffer | undefined> {
  const loc = parsePgLocation(location);
  const c = await connectClient(loc, 'ttj');
  try {
    if (!(await hasKeyTable(c))) return undefined;
    const r = await c.query('SELECT k.data FROM ttj_key k JOIN ttj_journal j ON j.id = k.journal WHERE j.name = $1', [loc.journal]);
    return r.rows.length ? Buffer.from(r.rows[0].data as Buffer) : undefined;
  } catch (e) {
    throw toStoreError(e, loc.display, 'reading the journal key');
  } finally {
    await closeClient(c);
  }
}

/**
 * Replaces the key file of the encrypted journal `location` names (one UPDATE: atomic).
 * @throws TtjError NOT_A_JOURNAL when it has no key row.
 */
export async function replacePgKeyFile(location: string, keyFile: Buffer): Promise<void> {
  const loc = parsePgLocation(location);
  const c = await connectClient(loc, 'ttj key passwd');
  let n: number;
  try {
    const r = await c.query('UPDATE ttj_key k SET data = $2 FROM ttj_journal j WHERE j.id = k.journal AND j.name = $1', [loc.journal, keyFile]);
    n = r.rowCount ?? 0;
  } catch (e) {
    throw toStoreError(e, loc.display, 'writing the journal key');
  } finally {
    await closeClient(c);
  }
  if (n !== 1) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `no encrypted journal at ${loc.display}`, { location: loc.display });
}
