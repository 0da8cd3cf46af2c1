/** The peers measured beside ttj on the same images: borg, restic, and zstd -1 full checkpoints. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { duBytes } from './du.js';

const env = {
  ...process.env,
  BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
  BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  BORG_PASSPHRASE: '',
  RESTIC_PASSWORD: 'bench',
};

/** Runs a command, returns its wall time in ms (throws on failure). */
export function timed(cmd: string, args: string[], cwd?: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t0;
}

export function installed(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export function version(cmd: string, arg = '--version'): string {
  const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').split('\n')[0]!.trim();
}

export interface PeerRun {
  name: string;
  ingestMs: number[];
  bytes: number;
  restoreMs: Record<string, number>;
}

/** borg with its best setting for page images. Each image `eN.raw` is one archive. */
export function runBorg(images: string[], dir: string, restoreEpochs: number[]): PeerRun {
  const repo = join(dir, 'borg');
  timed('borg', ['init', '--encryption=none', repo]);
  const ingestMs: number[] = [];
  images.forEach((img, e) => ingestMs.push(timed('borg', ['create', '--chunker-params', 'fixed,4096', '--compression', 'zstd,1', `${repo}::e${e}`, img.split('/').pop()!], img.slice(0, img.lastIndexOf('/')))));
  const restoreMs: Record<string, number> = {};
  for (const e of restoreEpochs) {
    const out = join(dir, `borg-out-${e}`);
    mkdirSync(out, { recursive: true });
    restoreMs[e] = timed('borg', ['extract', `${repo}::e${e}`], out);
    rmSync(out, { recursive: true, force: true });
  }
  return { name: 'borg', ingestMs, bytes: duBytes(repo), restoreMs };
}

/** restic with its defaults. */
export function runRestic(images: string[], dir: string, restoreEpochs: number[]): PeerRun {
  const repo = join(dir, 'restic');
  timed('restic', ['init', '--repo', repo, '-q']);
  const ingestMs: number[] = [];
  const ids: string[] = [];
  for (const img of images) {
    ingestMs.push(timed('restic', ['backup', '--repo', repo, '-q', '--tag', img.split('/').pop()!, img]));
    const r = spawnSync('restic', ['snapshots', '--repo', repo, '--json', '--latest', '1'], { env, encoding: 'utf8' });
    ids.push((JSON.parse(r.stdout) as { short_id: string }[]).pop()!.short_id);
  }
  const restoreMs: Record<string, number> = {};
  for (const e of restoreEpochs) {
    const out = join(dir, `restic-out-${e}`);
    restoreMs[e] = timed('restic', ['restore', ids[e]!, '--repo', repo, '-q', '--target', out]);
    rmSync(out, { recursive: true, force: true });
  }
  return { name: 'restic', ingestMs, bytes: duBytes(repo), restoreMs };
}

/** The baseline: every epoch as a full checkpoint compressed with zstd -1. */
export function runZstd(images: string[], dir: string): PeerRun {
  const ingestMs: number[] = [];
  let bytes = 0;
  for (const [e, img] of images.entries()) {
    const out = join(dir, `e${e}.zst`);
    ingestMs.push(timed('zstd', ['-1', '-q', '-f', '-T1', img, '-o', out]));
    bytes += duBytes(out);
    rmSync(out);
  }
  return { name: 'zstd -1 full', ingestMs, bytes, restoreMs: {} };
}
