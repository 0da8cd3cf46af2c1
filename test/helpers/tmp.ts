import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary directory per test, removed afterwards. Call inside describe(). */
export function useTmp(): { readonly dir: string; path(...p: string[]): string } {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ttj-test-'));
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
