/** The page scanner's speed, native against the TypeScript fallback (for `npm run bench`). */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fallbackImpl, nativeImpl, nativeInfo } from './index.js';

export interface ScanBench {
  sizeMiB: number;
  nativeLoaded: boolean;
  nativeGBps?: number;
  fallbackGBps: number;
  ratio?: number;
  sha256GBps?: number;
  sha: string;
}

/** Scans a memory-like image (40% zero pages) of `sizeMiB`, best of 3 runs each. */
export async function benchScan(sizeMiB = 256): Promise<ScanBench> {
  const ps = 4096;
  const buf = Buffer.alloc(sizeMiB << 20);
  const pages = buf.length / ps;
  for (let p = 0; p < pages; p++) if (p % 5 >= 2) randomFillSync(buf, p * ps, ps);
  const best = (fn: () => void, n = 3) => {
    let b = Infinity;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      fn();
      b = Math.min(b, performance.now() - t);
    }
    return buf.length / 1e9 / (b / 1000);
  };
  const fallbackGBps = best(() => fallbackImpl.scanPages(buf, ps), 1);
  const res: ScanBench = { sizeMiB, nativeLoaded: !!nativeImpl, fallbackGBps, sha: nativeInfo().sha };
  if (nativeImpl) {
    res.nativeGBps = best(() => nativeImpl!.scanPages(buf, ps));
    res.ratio = res.nativeGBps / fallbackGBps;
    const all = Uint32Array.from({ length: pages }, (_, i) => i);
    res.sha256GBps = best(() => nativeImpl!.sha256Pages(buf, ps, all));
  }
  return res;
}
