/** The content of a directory tree, to compare before and after. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sha } from './images.js';

/** SHA-256 of every file under `dir` (recursively) whose name is not in `skip`, by relative path. */
export function fileHashes(dir: string, skip: readonly string[] = [], rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(join(dir, rel))) {
    const p = join(rel, n);
    if (statSync(join(dir, p)).isDirectory()) Object.assign(out, fileHashes(dir, skip, p));
    else if (!skip.includes(n)) out[p] = sha(readFileSync(join(dir, p)));
  }
  return out;
}
