import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScannerImpl } from './types.js';

/** The package root (the directory with package.json), from this file's location. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The addon, or why it is not there. TTJ_NATIVE=0 forces the fallback (silently). */
export function loadNative(): { impl?: ScannerImpl & { info(): { sha: string; threads: number } }; path?: string; reason?: string } {
  if (process.env.TTJ_NATIVE === '0') return { reason: 'disabled by TTJ_NATIVE=0' };
  const path = join(packageRoot(), 'native', 'build', 'Release', 'ttj_native.node');
  try {
    const impl = createRequire(import.meta.url)(path);
    return { impl, path };
  } catch (e) {
    const reason = existsSync(path) ? (e as Error).message.split('\n')[0]! : 'not built (npm run build:native)';
    process.stderr.write(`ttj: native page scanner not loaded (${reason}); using the TypeScript fallback\n`);
    return { reason, path };
  }
}
