/**
 * Modes of the files ttj makes in a journal. A new journal is its owner's only (its
 * directories 0700, so its files 0600: guest memory holds secrets); a journal made
 * before, with wider modes, keeps them: a new file gets no permission its directory
 * does not give, and none its directory gives that the old files had not.
 */
import { stat } from 'node:fs/promises';

/** Mode of a new directory of a journal. */
export const DIR_MODE = 0o700;
/** Mode of a new file in a directory made with {@link DIR_MODE}. */
export const FILE_MODE = 0o600;

/** The mode for a new file in `dir`: read and write where its directory gives them (0600 in a 0700 directory). */
export async function fileModeIn(dir: string): Promise<number> {
  try {
    return (await stat(dir)).mode & 0o666;
  } catch {
    return FILE_MODE;
  }
}

/** The process's umask before the first {@link withUmaskFor} still running set its own. */
let savedUmask: number | undefined;
/** How many {@link withUmaskFor} calls are running. */
let umaskHolders = 0;

/**
 * Runs `fn` (which makes files through a library that uses the umask: LevelDB) under
 * the process's umask plus the group and other permissions `dir` does not give, and
 * restores the umask once the last such call running is done. Where the umask cannot
 * be set (a worker thread), `fn` just runs.
 */
export async function withUmaskFor<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  let dirMode = DIR_MODE;
  try {
    dirMode = (await stat(dir)).mode;
  } catch {
    /* made by fn: DIR_MODE */
  }
  let previous: number;
  try {
    previous = process.umask(0o077);
  } catch {
    return fn();
  }
  if (umaskHolders++ === 0) savedUmask = previous;
  process.umask(savedUmask! | (0o077 & ~dirMode));
  try {
    return await fn();
  } finally {
    if (--umaskHolders === 0) process.umask(savedUmask!);
  }
}
