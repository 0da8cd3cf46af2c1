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
/** The marker of the store layout this ttj writes; it reads exactly these versions. */
const MARKER = { format: 'ttj-journal', version: 1 };
/**
 * The store version of a journal whose index may hold blobs stored as patches (see
 * docs/format.md, "Blob locations"): a journal is marked so before its first patch is
 * written, so that a ttj that cannot read patches refuses it rather than misreads it.
 */
const PATCH_MARKER_VERSION = 2;
const READABLE_MARKER_VERSIONS = new Set([1, PATCH_MARKER_VERSION]);

/**
 * Marks the journal at `dir` as one that may hold patches (store version 2), when it
 * is not yet: the new marker is written beside the old one, synced, and renamed over it.
 * @throws TtjError PERMISSION, NO_SPACE...
 */
export async function allowPatches(dir: string): Promise<void> {
  const m = await readMarker(dir);
  if (m && m.version === PATCH_MARKER_VERSION) return;
  const path = join(dir, MARKER_FILE);
  const tmp = `${path}.new`;
  try {
    const fh = await open(tmp, 'w', FILE_MODE);
    try {
      await fh.writeFile(JSON.stringify({ ...MARKER, version: PATCH_MARKER_VERSION }) + '\n');
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

/** True when `dir` holds a journal marker (false also when it cannot be read). */
export async function isJournalDir(dir: string): Promise<boolean> {
  return (await readMarker(dir).catch(() => undefined)) !== undefined;
}

/**
 * Makes sure `dir` is a journal this ttj reads, creating it (when `create`) where
 * there is none. Returns the undo of a creation (for an open that fails later: what
 * it made removed again), or undefined when the journal was there.
 * @throws TtjError NOT_A_JOURNAL, NOT_A_DIRECTORY, UNSUPPORTED_VERSION, PERMISSION...
 */
export async function prepareJournalDir(dir: string, create: boolean): Promise<(() => Promise<void>) | undefined> {
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
  return createJournalDir(dir);
}

/**
 * The journal marker of `dir`, or undefined when there is none (no such file or
 * directory, or not a ttj marker).
 * @throws TtjError PERMISSION (or another environment code) when `dir` may hold a
 *   marker this process cannot read, rather than reporting "not a journal".
 */
async function readMarker(dir: string): Promise<{ format: string; version: unknown } | undefined> {
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
function checkMarkerVersion(dir: string, m: { version: unknown }): void {
  if (!READABLE_MARKER_VERSIONS.has(m.version as number)) {
    throw new TtjError(ErrorCodes.UNSUPPORTED_VERSION, `${dir} is a journal of store version ${JSON.stringify(m.version)}; this ttj reads version ${[...READABLE_MARKER_VERSIONS].join(', ')}`, {
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
async function createJournalDir(dir: string): Promise<() => Promise<void>> {
  let madeDir = false;
  const undo = async () => {
    if (madeDir) await rm(dir, { recursive: true, force: true });
    else for (const name of [MARKER_FILE, 'packs', 'index', LOCK_FILE]) await rm(join(dir, name), { recursive: true, force: true });
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
    await writeFile(join(dir, MARKER_FILE), JSON.stringify(MARKER) + '\n', { mode: FILE_MODE });
  } catch (e) {
    await undo().catch(() => undefined);
    throw toTtjError(e, { path: dir, what: 'creating the journal' });
  }
  return undo;
}
