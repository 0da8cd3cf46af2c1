import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Apparent bytes of a file or a directory tree. */
export function duBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += duBytes(join(path, e));
  return n;
}

/** A journal directory's bytes on disk: pack files (blob bytes), the LevelDB index, the rest. */
export function journalBytes(dir: string): { total: number; packs: number; index: number } {
  const part = (p: string) => (existsSync(join(dir, p)) ? duBytes(join(dir, p)) : 0);
  return { total: duBytes(dir), packs: part('packs'), index: part('index') };
}
