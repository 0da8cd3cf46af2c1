import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Apparent bytes of a file or a directory tree. */
export function duBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += duBytes(join(path, e));
  return n;
}
