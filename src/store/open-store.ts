/**
 * The one way a journal's store is opened from a location: a directory path is the
 * embedded store (LevelDB + pack files); a `postgres://` (or `postgresql://`) URL is
 * the PostgreSQL store. Every command and library entry opens journals through here.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ErrorCodes, TtjError } from '../errors.js';
import { isJournalDir } from './journal-dir.js';
import { LocalStore, type LocalStoreOptions } from './local-store.js';
import { isPgLocation, parsePgLocation } from './pg/pg-location.js';
import type { JournalStore } from './store.js';
import { EncryptedStore } from './encrypted-store.js';
import { unlockJournal, type EncryptionOptions } from './journal-key.js';

/**
 * Options of {@link openStore}: those of the embedded store (other backends take what
 * applies to them), and the password of an encrypted journal (or, with `create` and
 * `encrypt`, of a new one).
 */
export type OpenStoreOptions = Omit<LocalStoreOptions, 'cipher' | 'keyFile'> & EncryptionOptions;

/** The PostgreSQL backend, loaded when a location needs it (`pg` adds to every command's start-up otherwise). */
const pgBackend = () => import('./pg/pg-store.js');

/** True when `location` is a URL (`scheme://...`) rather than a path. */
export function isUrlLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** @throws TtjError BAD_ARGUMENT for a URL of a scheme no backend serves. */
function refuseUnknownScheme(location: string): never {
  const scheme = location.slice(0, location.indexOf(':'));
  throw new TtjError(ErrorCodes.BAD_ARGUMENT, `no journal store backend for ${scheme}:// locations (a journal is a directory or a postgres:// URL)`, { location });
}

/**
 * Opens the store at `location` for reading, or (with `write`/`create`) for writing. An
 * encrypted journal is unlocked with `opts.password` and seen through its cipher
 * (./encrypted-store.ts): above the store, it reads as a plain one.
 * @throws TtjError BAD_ARGUMENT for a URL of a scheme no backend serves; PASSWORD_REQUIRED, BAD_PASSWORD; what the backend throws (NOT_A_JOURNAL, LOCKED, ...).
 */
export async function openStore(location: string, opts: OpenStoreOptions = {}): Promise<JournalStore> {
  if (!isPgLocation(location) && isUrlLocation(location)) refuseUnknownScheme(location);
  const { password, encrypt, sameKeyAs, ...rest } = opts;
  const key = await unlockJournal(location, { password, encrypt, sameKeyAs, create: opts.create, exists: () => journalExists(location) });
  const backendOpts = { ...rest, cipher: key?.cipher, keyFile: key?.create ? key.keyFile : undefined };
  const store = isPgLocation(location) ? await (await pgBackend()).PgStore.open(location, backendOpts) : await LocalStore.open(location, backendOpts);
  return key ? new EncryptedStore(store, key) : store;
}

/**
 * True when a journal exists at `location` (false when it cannot be read there).
 * @throws TtjError BAD_ARGUMENT for a URL of a scheme no backend serves; STORE_UNAVAILABLE when a server cannot be asked.
 */
export async function journalExists(location: string): Promise<boolean> {
  if (isPgLocation(location)) return (await pgBackend()).pgJournalExists(location);
  if (isUrlLocation(location)) refuseUnknownScheme(location);
  return isJournalDir(location);
}

/**
 * Removes the journal at `location` whole (a journal a failed command created and left
 * without an epoch). Nothing else calls this: journals are append-only.
 */
export async function removeJournal(location: string): Promise<void> {
  if (isPgLocation(location)) return (await pgBackend()).dropPgJournal(location);
  if (isUrlLocation(location)) refuseUnknownScheme(location);
  await rm(location, { recursive: true, force: true });
}

/** How a location is written into a journal (a fork's parent): a directory made absolute, a URL without its password. */
export function recordedLocation(location: string): string {
  if (isPgLocation(location)) return parsePgLocation(location).display;
  return isUrlLocation(location) ? location : resolve(location);
}
