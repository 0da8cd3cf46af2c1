/**
 * A private copy of a journal's LevelDB index, for a process that cannot write the
 * index where it is (a read-only file system, another user's journal, a full disk).
 * LevelDB's open always writes (its LOCK file, a new write-ahead log, a new manifest),
 * so such a reader opens a copy instead: in a directory of its own (0700, under the
 * temp directory, `TMPDIR`), removed when it closes. Table files (`*.ldb`, `*.sst`),
 * which LevelDB never changes once written, are linked symbolically; the small rest
 * (CURRENT, the manifest, the write-ahead log) is copied. Nothing in the journal is
 * written, and pack files are read where they are.
 */
import { copyFile, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Files of a LevelDB directory a copy leaves out (the lock and LevelDB's own info log). */
const SKIP = /^(LOCK|LOG|LOG\.old)$/;
/** Table files, immutable once written: linked, not copied. */
const TABLE = /\.(ldb|sst)$/;

/** A private copy of an index directory. */
export interface IndexCopy {
  /** The copy's directory. */
  readonly path: string;
  /** Removes the copy. */
  remove(): Promise<void>;
}

/**
 * Copies the LevelDB directory `levelPath` into a new private directory.
 * @throws the file-system error of a file that cannot be read (EACCES...) or written (ENOSPC in the temp directory).
 */
export async function copyIndex(levelPath: string): Promise<IndexCopy> {
  const path = await mkdtemp(join(tmpdir(), 'ttj-index-'));
  const remove = () => rm(path, { recursive: true, force: true });
  try {
    // CURRENT first: the manifest it names is then in the listing below (a writer
    // replaces CURRENT only after writing the new manifest).
    const src = resolve(levelPath);
    await copyFile(join(src, 'CURRENT'), join(path, 'CURRENT'));
    for (const name of await readdir(src)) {
      if (SKIP.test(name) || name === 'CURRENT') continue;
      if (TABLE.test(name)) await symlink(join(src, name), join(path, name));
      else await copyFile(join(src, name), join(path, name));
    }
  } catch (e) {
    await remove();
    throw e;
  }
  return { path, remove };
}
