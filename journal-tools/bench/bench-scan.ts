/**
 * The page scanner's speed, native against the TypeScript fallback: called by the
 * benchmark harness (`npm run bench`, journal-tools/bench/). Not a test.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fallbackImpl, nativeImpl, nativeInfo } from '../../src/native/index.js';

/** What {@link benchScan} measured (GB = 10^9 bytes, of the image scanned or hashed per second). */
export interface ScanBench {
  /** The image size, MiB. */
  sizeMiB: number;
  /** Whether the addon was loaded (else only the fallback is measured). */
  nativeLoaded: boolean;
  /** Native `scanPages` (synchronous call, split across the cores), best of 5. */
  nativeGBps?: number;
  /** Native `scanPagesAsync`, best of 5. */
  nativeAsyncGBps?: number;
  /** TypeScript fallback `scanPages` (one thread), best of 3 after a warm-up run. */
  fallbackGBps: number;
  /** nativeGBps / fallbackGBps. */
  ratio?: number;
  /** Native `sha256Pages` of every page (split across the cores), best of 3. */
  sha256GBps?: number;
  /** The SHA-256 code in use: 'sha-ni', 'portable' or 'node:crypto'. */
  sha: string;
  /** The fingerprint code in use: 'avx2', 'portable' or 'typescript'. */
  simd?: string;
  /** Threads the native scan is split across. */
  threads: number;
  /**
   * Native `scanPages` of the same image once it is all zero, best of 3: only the
   * zero check runs, so this is about the rate the machine's memory can be read
   * at, the ceiling of any scan (the native scan of the real image is near it).
   */
  readCeilingGBps?: number;
}

/**
 * Scans a memory-like image of `sizeMiB` MiB (4 KiB pages: 40% zero, 60% random;
 * every page is touched, so zero pages are real memory): native sync and async,
 * the TypeScript fallback, and native SHA-256 of every page.
 */
export async function benchScan(sizeMiB = 256): Promise<ScanBench> {
  const ps = 4096;
  const buf = Buffer.allocUnsafe(sizeMiB << 20);
  const pages = buf.length / ps;
  randomFillSync(buf);
  for (let p = 0; p < pages; p++) if (p % 5 < 2) buf.fill(0, p * ps, (p + 1) * ps);
  const gbps = (ms: number) => buf.length / 1e9 / (ms / 1000);
  const best = async (fn: () => unknown, n: number) => {
    let b = Infinity;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn();
      b = Math.min(b, performance.now() - t);
    }
    return gbps(b);
  };
  fallbackImpl.scanPages(buf, ps); // warm-up: lets V8 optimize the loop
  const fallbackGBps = await best(() => fallbackImpl.scanPages(buf, ps), 3);
  const info = nativeInfo();
  const res: ScanBench = { sizeMiB, nativeLoaded: !!nativeImpl, fallbackGBps, sha: info.sha, simd: info.simd, threads: info.threads };
  if (nativeImpl) {
    const n = nativeImpl;
    n.scanPages(buf, ps);
    res.nativeGBps = await best(() => n.scanPages(buf, ps), 5);
    res.nativeAsyncGBps = await best(() => n.scanPagesAsync(buf, ps), 5);
    res.ratio = res.nativeGBps / fallbackGBps;
    const all = Uint32Array.from({ length: pages }, (_, i) => i);
    res.sha256GBps = await best(() => n.sha256Pages(buf, ps, all), 3);
    buf.fill(0);
    res.readCeilingGBps = await best(() => n.scanPages(buf, ps), 3);
  }
  return res;
}
