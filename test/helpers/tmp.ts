/** Temporary directories of the tests: the one way tests make them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new empty directory under `parent` (default the system's temporary directory), named `prefix` + random. The one way tests make temporary directories. */
export function tmpDir(prefix = 'ttj-test-', parent = tmpdir()): string {
  return mkdtempSync(join(parent, prefix));
}

/** A new temporary directory and the function that removes it (for suites that keep one across tests). */
export async function tmpDirWithCleanup(prefix = 'ttj-nbd-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = tmpDir(prefix);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A temporary directory per test, removed afterwards. Call inside describe(). */
export function useTmp(): { readonly dir: string; path(...p: string[]): string } {
  let dir = '';
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    path: (...p: string[]) => join(dir, ...p),
  };
}

/** A temp dir per test on /dev/shm when there is one (RAM files are big), removed afterwards. Call inside describe(). */
export function useShmTmp(): { readonly dir: string; path(...p: string[]): string } {
  let dir = '';
  beforeEach(() => {
    try {
      dir = tmpDir('ttj-qemu-test-', '/dev/shm');
    } catch {
      dir = tmpDir('ttj-qemu-test-');
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return {
    get dir() {
      return dir;
    },
    path: (...p: string[]) => join(dir, ...p),
  };
}
