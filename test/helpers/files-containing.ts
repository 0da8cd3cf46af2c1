/** Which files of a directory tree hold a byte string (a secret that must not be stored in the clear). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir` (recursively, LevelDB files and packs included), by path relative to `dir`. */
function allFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(dir, rel))) {
    const p = join(rel, n);
    if (statSync(join(dir, p)).isDirectory()) out.push(...allFiles(dir, p));
    else out.push(p);
  }
  return out;
}

/** The files under `dir` whose bytes contain any of `needles`, by relative path. */
export function filesContaining(dir: string, needles: Buffer[]): string[] {
  return allFiles(dir).filter((p) => {
    const b = readFileSync(join(dir, p));
    return needles.some((n) => b.includes(n));
  });
}
