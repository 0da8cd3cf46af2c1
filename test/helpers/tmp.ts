import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new empty directory under `parent` (default the system's temporary directory), named `prefix` + random. The one way tests make temporary directories. */
export function tmpDir(prefix = 'ttj-test-', parent = tmpdir()): string {
  return mkdtempSync(join(parent, prefix));
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
