import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import { fileModeIn } from './file-modes.js';

/** Who holds a journal for writing. */
export interface LockHolder {
  /** Its process id, on `host`. */
  pid: number;
  host: string;
  /** The command that took the lock (`ttj record`, ...). */
  command: string;
  /** When it took it (ISO time). */
  since: string;
}

export const LOCK_FILE = 'writer.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the current holder, if any live process holds the lock. */
export async function readLockHolder(dir: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockHolder;
    if (h.host === hostname() && !alive(h.pid)) return undefined;
    return h;
  } catch {
    return undefined;
  }
}

/**
 * Takes the one-writer-per-journal lock (an O_EXCL lock file naming the holder).
 * A lock left by a dead process on this host is taken over.
 * @throws TtjError LOCKED naming the holder.
 */
export async function acquireWriterLock(dir: string, command: string): Promise<{ release(): Promise<void> }> {
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', await fileModeIn(dir));
      try {
        await fh.writeFile(JSON.stringify(me));
      } catch (e) {
        await fh.close();
        await unlink(path).catch(() => undefined); // a full disk: leave no empty lock behind
        throw e;
      }
      await fh.close();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw toTtjError(e, { path: dir, what: 'taking the writer lock' });
      const holder = await readLockHolder(dir);
      if (holder) {
        throw new TtjError(ErrorCodes.LOCKED, `the journal ${dir} is being written by ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.since})`, { path: dir, holder });
      }
      await unlink(path).catch(() => undefined); // stale: its process is gone
    }
  }
  throw new TtjError(ErrorCodes.LOCKED, `could not take the writer lock of ${dir}`, { path: dir });
}
