/**
 * A journal directory and its marker (`ttj-journal.json`): recognising a journal,
 * refusing a store layout this ttj cannot read, and making a new journal's directory.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCodes, isTtjError, TtjError, toTtjError } from '../errors.js';
import { makeDirs } from '../util/make-dirs.js';
import { LOCK_FILE } from './writer-lock.js';
import { DIR_MODE, FILE_MODE } from './file-modes.js';

const MARKER_FILE = 'ttj-journal.json';
/** An encrypted journal's key file (./cipher-keys.ts). */
const KEY_FILE = 'ttj-key.json';
/** The marker of the store layout this ttj writes; it reads exactly these versions. */
const MARKER = { format: 'ttj-journal', version: 1 };
/**
 * Store version 2: the marker lists the features of the layout the journal uses, and a ttj
 * reads it when it knows every one (docs/format.md, "Versions"): `encrypted` (a key file,
 * sealed blocks, events and index values: "Encryption") and `patches` (the index may hold
 * blobs stored as patches: "Blob locations"). A ttj of version 1 only refuses it.
 */
const FEATURED_VERSION = 2;
/** The features this ttj reads. */
const KNOWN_FEATURES = new Set(['encrypted', 'patches']);
const READABLE_MARKER_VERSIONS = new Set([MARKER.version, FEATURED_VERSION]);

/** A journal marker as read. */
interface Marker {
  format: string;
  version: unknown;
  features?: unknown;
}

const featuresOf = (m: Marker | undefined): string[] => (m && m.version === FEATURED_VERSION && Array.isArray(m.features) ? (m.features as string[]) : []);

/**
 * Marks the journal at `dir` as one that may hold patches (feature `patches`), when it
 * is not yet: the new marker is written beside the old one, synced, and renamed over it.
 * @throws TtjError PERMISSION, NO_SPACE...
 */
export async function allowPatches(dir: string): Promise<void> {
  const m = await readMarker(dir);
  const features = featuresOf(m);
  if (features.includes('patches')) return;
  const path = join(dir, MARKER_FILE);
  const tmp = `${path}.new`;
  try {
    const fh = await open(tmp, 'w', FILE_MODE);
    try {
      await fh.writeFile(JSON.stringify({ format: MARKER.format, version: FEATURED_VERSION, features: [...features, 'patches'] }) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw toTtjError(e, { path: dir, what: 'marking the journal for patches' });
  }
}

/**
 * False when the journal at `dir` holds no blob stored as a patch: its marker does not
 * list the `patches` feature, which {@link allowPatches} adds before the first one is stored.
 */
export async function mayHavePatches(dir: string): Promise<boolean> {
  return featuresOf(await readMarker(dir)).includes('patches');
}

/** True when `dir` holds a journal marker (false also when it cannot be read). */
export async function isJournalDir(dir: string): Promise<boolean> {
  return (await readMarker(dir).catch(() => undefined)) !== undefined;
}

/**
 * The key file of the encrypted journal `dir`, or undefined when `dir` is not an
 * encrypted journal (no journal, or a plain one).
 * @throws TtjError CORRUPT_STORE when the marker says encrypted and the key file is gone; PERMISSION...
 */
export async function readKeyFile(dir: string): Promise<Buffer | undefined> {
  if (!featuresOf(await readMarker(dir)).includes('encrypted')) return undefined;
  try {
    return await readFile(join(dir, KEY_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TtjError(ErrorCodes.CORRUPT_STORE, `${dir} is an encrypted journal whose key file ${KEY_FILE} is missing`, { path: dir });
    throw toTtjError(e, { path: dir, what: 'reading the journal key file' });
  }
}

/**
 * Replaces the key file of the encrypted journal `dir` at once (a new file renamed
 * over the old, both synced): a crash leaves the old one or the new one.
 */
export async function replaceKeyFile(dir: string, bytes: Buffer): Promise<void> {
  const tmp = join(dir, `${KEY_FILE}.tmp`);
  try {
    await writeSynced(tmp, bytes);
    await rename(tmp, join(dir, KEY_FILE));
    await syncDir(dir);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw toTtjError(e, { path: dir, what: 'writing the journal key file' });
  }
}

async function writeSynced(path: string, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'w', FILE_MODE);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes sure `dir` is a journal this ttj reads, creating it (when `create`) where
 * there is none: an encrypted one when `keyFile` is given (its key file written before
 * its marker). Returns the undo of a creation (for an open that fails later: what
 * it made removed again), or undefined when the journal was there.
 * @throws TtjError NOT_A_JOURNAL, NOT_A_DIRECTORY, UNSUPPORTED_VERSION, PERMISSION...
 */
export async function prepareJournalDir(dir: string, create: boolean, keyFile?: Buffer): Promise<(() => Promise<void>) | undefined> {
  const marker = await readMarker(dir);
  if (marker) {
    checkMarkerVersion(dir, marker);
    return undefined;
  }
  let exists = false;
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw new TtjError(ErrorCodes.NOT_A_DIRECTORY, `${dir} is a file, not a journal directory`, { path: dir });
    exists = true;
  } catch (e) {
    if (isTtjError(e)) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw toTtjError(e, { path: dir, what: 'opening the journal' });
  }
  if (!create) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, exists ? `${dir} is not a ttj journal` : `no journal at ${dir}`, { path: dir });
  if (exists && (await readdir(dir)).length > 0) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${dir} exists, is not empty and is not a ttj journal`, { path: dir });
  return createJournalDir(dir, keyFile);
}

/**
 * The journal marker of `dir`, or undefined when there is none (no such file or
 * directory, or not a ttj marker).
 * @throws TtjError PERMISSION (or another environment code) when `dir` may hold a
 *   marker this process cannot read, rather than reporting "not a journal".
 */
async function readMarker(dir: string): Promise<Marker | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw toTtjError(e, { path: dir, what: 'reading the journal marker' });
  }
  try {
    const m = JSON.parse(text);
    return m && m.format === MARKER.format ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a journal whose marker names a store layout this ttj cannot read.
 * @throws TtjError UNSUPPORTED_VERSION.
 */
function checkMarkerVersion(dir: string, m: Marker): void {
  const unknown = featuresOf(m).filter((f) => !KNOWN_FEATURES.has(f));
  if (!READABLE_MARKER_VERSIONS.has(m.version as number) || unknown.length) {
    const what = unknown.length ? `store version ${JSON.stringify(m.version)} with features ${unknown.join(', ')} it does not know` : `store version ${JSON.stringify(m.version)}`;
    throw new TtjError(ErrorCodes.UNSUPPORTED_VERSION, `${dir} is a journal of ${what}; this ttj reads version ${[...READABLE_MARKER_VERSIONS].join(', ')} (features ${[...KNOWN_FEATURES].join(', ')})`, {
      path: dir,
      expected: MARKER.version,
      actual: String(m.version),
    });
  }
}

/**
 * A new journal's directory, its packs directory and its marker: the owner's only
 * (0700 directories, 0600 files; guest memory holds secrets). Returns the undo: what
 * it made removed again (for an open that fails later, on a full disk say); a failure
 * here undoes itself.
 */
async function createJournalDir(dir: string, keyFile: Buffer | undefined): Promise<() => Promise<void>> {
  let madeDir = false;
  const undo = async () => {
    if (madeDir) await rm(dir, { recursive: true, force: true });
    else for (const name of [MARKER_FILE, KEY_FILE, 'packs', 'index', LOCK_FILE]) await rm(join(dir, name), { recursive: true, force: true });
  };
  try {
    // Parents as the umask makes them; the journal's own directory (unless given empty) the owner's only.
    await makeDirs(dirname(dir), 0o777);
    await mkdir(dir, { mode: DIR_MODE }).then(
      () => (madeDir = true),
      (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      },
    );
    await mkdir(join(dir, 'packs'), { mode: DIR_MODE });
    if (keyFile) await writeSynced(join(dir, KEY_FILE), keyFile);
    await writeFile(join(dir, MARKER_FILE), JSON.stringify(keyFile ? { format: MARKER.format, version: FEATURED_VERSION, features: ['encrypted'] } : MARKER) + '\n', { mode: FILE_MODE });
  } catch (e) {
    await undo().catch(() => undefined);
    throw toTtjError(e, { path: dir, what: 'creating the journal' });
  }
  return undo;
}
