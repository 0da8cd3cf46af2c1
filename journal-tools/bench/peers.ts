/** The peers measured beside ttj on the same images: borg, restic, and zstd -1 full checkpoints. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { duBytes } from './du.js';
import { childrenCpuMs } from './proc.js';

const env = {
  ...process.env,
  BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
  BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  BORG_PASSPHRASE: '',
  RESTIC_PASSWORD: 'bench',
};

/**
 * Flushes dirty pages (untimed) before a measured command, so that one tool's
 * background writeback does not land in the next tool's time.
 */
export function settle(): void {
  spawnSync('sync');
}

/** CPU ms (user + system, all threads) of the last command run by {@link timed}. */
export let lastCpuMs = 0;

/** Runs a command, returns its wall time in ms (throws on failure); its CPU time goes to {@link lastCpuMs}. */
export function timed(cmd: string, args: string[], cwd?: string): number {
  settle();
  const c0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  lastCpuMs = childrenCpuMs() - c0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

/** The median-time run of `n` (wall ms and its CPU ms); `before` runs untimed before each. */
function medianOf(n: number, run: () => number, before?: () => void): { ms: number; cpuMs: number } {
  const runs: { ms: number; cpuMs: number }[] = [];
  for (let i = 0; i < n; i++) {
    before?.();
    const ms = run();
    runs.push({ ms, cpuMs: lastCpuMs });
  }
  return runs.sort((a, b) => a.ms - b.ms)[Math.floor(n / 2)]!;
}

/** Restore runs per epoch (the median is reported). */
const RESTORE_RUNS = 5;

export function installed(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A peer's version line, trimmed to "name x.y.z" where it can be found. */
export function version(cmd: string, arg = '--version'): string {
  const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
  const line = (r.stdout || r.stderr || '').split('\n')[0]!.trim();
  const v = /v?(\d+\.\d+(\.\d+)?)/.exec(line);
  return v ? `${cmd} ${v[1]}` : line;
}

export interface PeerRun {
  name: string;
  ingestMs: number[];
  bytes: number;
  /** Bytes each epoch added (where the tool makes that measurable). */
  bytesPerEpoch?: number[];
  restoreMs: Record<string, number>;
  /** CPU ms (all threads) of the median restore run: CPU / wall = cores used. */
  restoreCpuMs: Record<string, number>;
  /** CPU ms of each ingest. */
  ingestCpuMs: number[];
  /** Checking the whole repository, every stored byte re-read (restic check --read-data), median of 3: wall and CPU ms. */
  checkMs?: number;
  checkCpuMs?: number;
}

/** borg with its best setting for page images. Each image `eN.raw` is one archive. */
export function runBorg(images: string[], dir: string, restoreEpochs: number[]): PeerRun {
  const repo = join(dir, 'borg');
  timed('borg', ['init', '--encryption=none', repo]);
  const ingestMs: number[] = [];
  const ingestCpuMs: number[] = [];
  const sizes = [duBytes(repo)];
  images.forEach((img, e) => {
    ingestMs.push(timed('borg', ['create', '--chunker-params', 'fixed,4096', '--compression', 'zstd,1', `${repo}::e${e}`, img.split('/').pop()!], img.slice(0, img.lastIndexOf('/'))));
    ingestCpuMs.push(lastCpuMs);
    sizes.push(duBytes(repo));
  });
  const restoreMs: Record<string, number> = {};
  const restoreCpuMs: Record<string, number> = {};
  for (const e of restoreEpochs) {
    const out = join(dir, `borg-out-${e}`);
    const m = medianOf(
      RESTORE_RUNS,
      () => timed('borg', ['extract', `${repo}::e${e}`], out),
      () => {
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out, { recursive: true });
      },
    );
    restoreMs[e] = m.ms;
    restoreCpuMs[e] = m.cpuMs;
    rmSync(out, { recursive: true, force: true });
  }
  return { name: 'borg', ingestMs, ingestCpuMs, bytes: duBytes(repo), bytesPerEpoch: sizes.slice(1).map((b, i) => b - sizes[i]!), restoreMs, restoreCpuMs };
}

/** restic with its defaults. */
export function runRestic(images: string[], dir: string, restoreEpochs: number[]): PeerRun {
  const repo = join(dir, 'restic');
  timed('restic', ['init', '--repo', repo, '-q']);
  const ingestMs: number[] = [];
  const ingestCpuMs: number[] = [];
  const ids: string[] = [];
  const sizes = [duBytes(repo)];
  for (const img of images) {
    ingestMs.push(timed('restic', ['backup', '--repo', repo, '-q', '--tag', img.split('/').pop()!, img]));
    ingestCpuMs.push(lastCpuMs);
    const r = spawnSync('restic', ['snapshots', '--repo', repo, '--json', '--latest', '1'], { env, encoding: 'utf8' });
    ids.push((JSON.parse(r.stdout) as { short_id: string }[]).pop()!.short_id);
    sizes.push(duBytes(repo));
  }
  const restoreMs: Record<string, number> = {};
  const restoreCpuMs: Record<string, number> = {};
  for (const e of restoreEpochs) {
    const out = join(dir, `restic-out-${e}`);
    const m = medianOf(
      RESTORE_RUNS,
      () => timed('restic', ['restore', ids[e]!, '--repo', repo, '-q', '--target', out]),
      () => rmSync(out, { recursive: true, force: true }),
    );
    restoreMs[e] = m.ms;
    restoreCpuMs[e] = m.cpuMs;
    rmSync(out, { recursive: true, force: true });
  }
  const check = medianOf(3, () => timed('restic', ['check', '--read-data', '--repo', repo, '-q']));
  return {
    name: 'restic',
    ingestMs,
    ingestCpuMs,
    bytes: duBytes(repo),
    bytesPerEpoch: sizes.slice(1).map((b, i) => b - sizes[i]!),
    restoreMs,
    restoreCpuMs,
    checkMs: check.ms,
    checkCpuMs: check.cpuMs,
  };
}

/** The baseline: every epoch as a full checkpoint compressed with zstd -1 (one thread); restore = zstd -d. */
export function runZstd(images: string[], dir: string, restoreEpochs: number[]): PeerRun {
  const ingestMs: number[] = [];
  const ingestCpuMs: number[] = [];
  const restoreMs: Record<string, number> = {};
  const restoreCpuMs: Record<string, number> = {};
  const bytesPerEpoch: number[] = [];
  for (const [e, img] of images.entries()) {
    const z = join(dir, `e${e}.zst`);
    ingestMs.push(timed('zstd', ['-1', '-q', '-f', '-T1', img, '-o', z]));
    ingestCpuMs.push(lastCpuMs);
    bytesPerEpoch.push(duBytes(z));
    if (restoreEpochs.includes(e)) {
      const out = join(dir, `zstd-out-${e}.raw`);
      const m = medianOf(
        RESTORE_RUNS,
        () => timed('zstd', ['-d', '-q', '-f', z, '-o', out]),
        () => rmSync(out, { force: true }),
      );
      restoreMs[e] = m.ms;
      restoreCpuMs[e] = m.cpuMs;
      rmSync(out);
    }
    rmSync(z);
  }
  return { name: 'zstd -1 full', ingestMs, ingestCpuMs, bytes: bytesPerEpoch.reduce((a, b) => a + b, 0), bytesPerEpoch, restoreMs, restoreCpuMs };
}
