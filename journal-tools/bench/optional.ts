/**
 * Sections measured only when their module exists in this build: the native page
 * scanner (bench-scan.ts) and the NBD protocol layer against qemu-nbd
 * (bench-nbd.ts). Imported by a computed specifier so that this file
 * compiles whether or not they exist.
 */

type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string };

async function load<T>(specifier: string, exportName: string): Promise<T | string> {
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    const fn = mod[exportName];
    return typeof fn === 'function' ? (fn as T) : `${specifier} has no ${exportName}()`;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === 'ERR_MODULE_NOT_FOUND' ? 'not built (module missing)' : `failed to load: ${(e as Error).message}`;
  }
}

async function run<T>(specifier: string, exportName: string, call: (fn: (...a: unknown[]) => Promise<unknown>) => Promise<unknown>): Promise<Loaded<T>> {
  const fn = await load<(...a: unknown[]) => Promise<unknown>>(specifier, exportName);
  if (typeof fn === 'string') return { ok: false, reason: fn };
  try {
    return { ok: true, value: (await call(fn)) as T };
  } catch (e) {
    return { ok: false, reason: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

const scanModule = './bench-scan.js';
const nbdModule = './bench-nbd.js';

export interface ScanFigures {
  sizeMiB: number;
  nativeLoaded: boolean;
  nativeGBps?: number;
  fallbackGBps: number;
  ratio?: number;
  sha256GBps?: number;
  sha: string;
}

export interface NbdProtocolFigures {
  sizeBytes: number;
  runs: number;
  cases: { connections: number; ttj: { writeMBps: number; readMBps: number }; qemuNbd?: { writeMBps: number; readMBps: number }; ratio?: { write: number; read: number } }[];
}

/** benchScan(sizeMiB): native page scanner GB/s against the TypeScript fallback. */
export function optionalScan(sizeMiB: number): Promise<Loaded<ScanFigures>> {
  return run<ScanFigures>(scanModule, 'benchScan', (fn) => fn(sizeMiB));
}

/** benchNbd(opts): ttj's NBD server (over a plain file) against qemu-nbd, with nbdcopy. */
export function optionalNbd(opts: { sizeMiB: number; runs: number; dir: string }): Promise<Loaded<NbdProtocolFigures>> {
  return run<NbdProtocolFigures>(nbdModule, 'benchNbd', (fn) => fn(opts));
}
