/**
 * Loads the N-API addon (native/build/Release/ttj_native.node) for src/native/index.ts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { FINGERPRINT_VERSION, type NativeAddonInfo, type ScanResult, type ScannerImpl } from './types.js';

/** The addon's exports. */
type NativeAddon = ScannerImpl & {
  info(): NativeAddonInfo;
  fingerprintVersion: number;
  /** See src/native/direct-io.ts. */
  pwriteAlignedAsync(fd: number, buffers: Uint8Array[], position: number): Promise<number>;
  preadAlignedAsync(fd: number, position: number, length: number, target: Uint8Array, targetOffset: number): Promise<number>;
  fallocateAsync(fd: number, offset: number, length: number): Promise<number>;
  /** See src/native/ram-file.ts. */
  scanFileAsync(fd: number, size: number, pageSize: number, prev: Uint8Array | null): Promise<ScanResult>;
  readPagesAsync(fd: number, pageSize: number, pfns: Uint32Array, out: Uint8Array): Promise<Uint8Array>;
};

/** What {@link loadNative} found. */
export interface LoadResult {
  /** The addon, when it loaded. */
  impl?: NativeAddon;
  /** Where the addon is (or would be). */
  path?: string;
  /** Why it did not load. */
  reason?: string;
}

/**
 * The package root (the directory with ttj's package.json), walking up from this
 * file: it runs from src/native/ under ts-node-like tools and from dist/src/native/
 * once compiled.
 */
function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    const up = dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
}

const FUNCTIONS = [
  'scanPages',
  'scanPagesAsync',
  'sha256Pages',
  'sha256PagesAsync',
  'sha256Ranges',
  'sha256BuffersAsync',
  'gatherPages',
  'pwriteAlignedAsync',
  'preadAlignedAsync',
  'fallocateAsync',
  'scanFileAsync',
  'readPagesAsync',
  'info',
] as const;

let loaded: LoadResult | undefined;

/**
 * Loads the addon, or says why not. `TTJ_NATIVE=0` forces the fallback silently;
 * any other failure prints one line on stderr (once per process: workers stay
 * quiet) and ttj goes on with the TypeScript fallback. An addon built from older
 * sources (another fingerprint version, missing functions) is not used. Loaded once
 * per process (later calls return the same result).
 */
export function loadNative(): LoadResult {
  loaded ??= load();
  return loaded;
}

function load(): LoadResult {
  if (process.env.TTJ_NATIVE === '0') return { reason: 'disabled by TTJ_NATIVE=0' };
  const path = join(packageRoot(), 'native', 'build', 'Release', 'ttj_native.node');
  let reason: string;
  try {
    const impl = createRequire(import.meta.url)(path) as NativeAddon;
    const missing = FUNCTIONS.filter((f) => typeof impl[f] !== 'function');
    if (missing.length === 0 && impl.fingerprintVersion === FINGERPRINT_VERSION) return { impl, path };
    reason = `stale build (${missing.length ? `no ${missing.join(', ')}` : `fingerprint version ${String(impl.fingerprintVersion)}`}): run npm run build:native`;
  } catch (e) {
    reason = existsSync(path) ? String((e as Error).message).split('\n')[0]! : 'not built: run npm run build:native';
  }
  if (isMainThread) process.stderr.write(`ttj: native page scanner not loaded (${reason}); using the TypeScript fallback\n`);
  return { reason, path };
}
