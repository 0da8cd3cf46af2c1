/**
 * An encrypted journal's key where it is kept (a directory's `ttj-key.json`, a
 * PostgreSQL journal's `ttj_key` row), unlocked with the password the caller gives
 * (the CLI reads it from `TTJ_PASSWORD` or `--password-file`; never an argument).
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { JournalCipher } from './cipher.js';
import { createKeyFile, keyFileId, rewrapKeyFile, unlockKeyFile } from './cipher-keys.js';
import { readKeyFile, replaceKeyFile } from './journal-dir.js';
import { isPgLocation, parsePgLocation } from './pg/pg-location.js';

/** Options of opening a journal that concern encryption (part of `openStore`'s options). */
export interface EncryptionOptions {
  /** The password of an encrypted journal (ignored for a plain one). */
  password?: string;
  /** With `create`, a journal that does not exist yet is made encrypted (with `password`). */
  encrypt?: boolean;
  /**
   * A replica's key (push): the journal must be encrypted with this master key (its key
   * id), and one created is given this key file; no password is asked.
   * @throws TtjError KEY_MISMATCH when the journal is plain or has another key.
   */
  sameKeyAs?: JournalKeySource;
}

/** An unlocked journal key: its key file and its ciphers (what a replica is opened with). */
export interface JournalKeySource {
  keyFile: Buffer;
  cipher: JournalCipher;
}

/** An encrypted journal's key file and cipher, and whether the key file is to be written with a new journal. */
export interface JournalKey extends JournalKeySource {
  /** The key file is new: write it with the journal being created. */
  create: boolean;
}

/** The PostgreSQL backend, loaded only for postgres:// locations. */
const pgBackend = () => import('./pg/pg-key.js');

/** Where an error names the journal: `path` for a directory, `location` (without password) for a URL. */
function whereOf(location: string): { path?: string; location?: string } {
  return isPgLocation(location) ? { location: parsePgLocation(location).display } : { path: location };
}

/**
 * The key file of the journal at `location`, or undefined for a plain journal or none.
 * @throws TtjError CORRUPT_STORE when an encrypted journal's key file is gone; STORE_UNAVAILABLE...
 */
async function readJournalKeyFile(location: string): Promise<Buffer | undefined> {
  if (isPgLocation(location)) return (await pgBackend()).readPgKeyFile(location);
  return readKeyFile(location);
}

/** Replaces the key file of the encrypted journal at `location` atomically. */
async function replaceJournalKeyFile(location: string, bytes: Buffer): Promise<void> {
  if (isPgLocation(location)) return (await pgBackend()).replacePgKeyFile(location, bytes);
  return replaceKeyFile(location, bytes);
}

/**
 * The key of the journal at `location` when it is (or, with `create` and `encrypt`, is to
 * be made) encrypted, unlocked with `opts.password`; undefined for a plain journal.
 * @throws TtjError PASSWORD_REQUIRED without a password; BAD_PASSWORD; BAD_ARGUMENT for
 *   `encrypt` on a journal that exists and is not encrypted.
 */
export async function unlockJournal(location: string, opts: EncryptionOptions & { create?: boolean; exists: () => Promise<boolean> }): Promise<JournalKey | undefined> {
  const where = whereOf(location);
  const file = await readJournalKeyFile(location);
  if (opts.sameKeyAs) return replicaKey(location, file, opts.sameKeyAs, opts);
  if (!file && !opts.encrypt) return undefined;
  if (opts.password === undefined) {
    throw new TtjError(ErrorCodes.PASSWORD_REQUIRED, `${where.path ?? where.location} ${file ? 'is' : 'is to be'} an encrypted journal: give its password (TTJ_PASSWORD or --password-file)`, where);
  }
  if (file) return { keyFile: file, cipher: unlockKeyFile(file, opts.password, where), create: false };
  if (await opts.exists()) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `${where.path ?? where.location} exists and is not encrypted (--encrypt applies to a new journal)`, where);
  if (!opts.create) return undefined;
  const k = createKeyFile(opts.password);
  return { keyFile: k.file, cipher: k.cipher, create: true };
}

/**
 * The key of a replica of a journal whose key is `source`: the same master key, taken
 * from the source (no password is asked; the replica's key file may wrap it for another).
 * @throws TtjError KEY_MISMATCH when the replica is plain or has another key.
 */
async function replicaKey(location: string, file: Buffer | undefined, source: JournalKeySource, opts: { create?: boolean; exists: () => Promise<boolean> }): Promise<JournalKey> {
  const where = whereOf(location);
  const expected = keyFileId(source.keyFile, {});
  const mismatch = (actual: string) =>
    new TtjError(ErrorCodes.KEY_MISMATCH, `${where.path ?? where.location} is ${actual === 'plain' ? 'not encrypted' : 'encrypted with another key'}: an encrypted journal is pushed only to a journal of its own key`, {
      location: where.path ?? where.location!,
      expected,
      actual,
    });
  if (file) {
    const actual = keyFileId(file, where);
    if (actual !== expected) throw mismatch(actual);
    return { keyFile: file, cipher: source.cipher, create: false };
  }
  if (await opts.exists()) throw mismatch('plain');
  return { keyFile: source.keyFile, cipher: source.cipher, create: !!opts.create };
}

/** What {@link changePassword} did. */
export interface ChangedPassword {
  journal: string;
  /** The journal's key id (hex): unchanged, as is its data. */
  keyId: string;
}

/**
 * Rewraps the master key of the encrypted journal at `location` for `newPassword`: only
 * its key file is replaced (atomically); the data stays as it is.
 * @throws TtjError BAD_PASSWORD when `oldPassword` does not open it; BAD_ARGUMENT for a journal that is not encrypted.
 */
export async function changePassword(location: string, oldPassword: string, newPassword: string): Promise<ChangedPassword> {
  const where = whereOf(location);
  const file = await readJournalKeyFile(location);
  if (!file) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `${where.path ?? where.location} is not an encrypted journal`, where);
  await replaceJournalKeyFile(location, rewrapKeyFile(file, oldPassword, newPassword, where));
  return { journal: where.path ?? where.location!, keyId: keyFileId(file, where) };
}

/** The key id (hex) of the journal at `location`, or `plain` when it is not encrypted (push compares them). */
export async function journalKeyId(location: string): Promise<string> {
  const file = await readJournalKeyFile(location);
  return file ? keyFileId(file, whereOf(location)) : 'plain';
}
