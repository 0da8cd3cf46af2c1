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

/**
 * The umask under which another library (LevelDB) makes files in `dir`: the process's
 * own, plus the group and other permissions `dir` does not give.
 */
export async function umaskFor(dir: string, processUmask: number): Promise<number> {
  try {
    return processUmask | (0o077 & ~(await stat(dir)).mode);
  } catch {
    return processUmask | 0o077;
  }
}
