import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p` with `mode` for every directory it creates. Node's own
 * `mkdir({recursive: true})` never returns when the kernel answers ENOENT for a path
 * whose parent exists (`/proc/x`); here that is an ENOENT error, at once. A path that
 * exists but is not a directory is an ENOTDIR error.
 */
export async function makeDirs(dir: string, mode: number): Promise<void> {
  try {
    await mkdir(dir, { mode });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return checkIsDirectory(dir);
    const parent = dirname(dir);
    // Only a missing parent is worth creating; ENOENT with the parent there is final.
    if (code !== 'ENOENT' || parent === dir || (await isDirectory(parent))) throw e;
    await makeDirs(parent, mode);
  }
  try {
    await mkdir(dir, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await checkIsDirectory(dir);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function checkIsDirectory(path: string): Promise<void> {
  if (!(await isDirectory(path))) throw Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR', path });
}
