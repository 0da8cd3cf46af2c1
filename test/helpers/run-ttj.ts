import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The `ttj` executable. */
export const ttjBin = join(repoRoot, 'bin', 'run.js');

/**
 * Runs `ttj ARGS` as a subprocess: exit status (null when killed at `timeoutMs`), output, and stdout parsed as JSON when it is.
 */
export function ttj(args: string[], opts: { input?: Buffer; cwd?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [ttjBin, ...args], { encoding: 'utf8', input: opts.input, cwd: opts.cwd, timeout: opts.timeoutMs });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}
