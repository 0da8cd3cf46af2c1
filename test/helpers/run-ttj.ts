/** The ttj CLI of this checkout (bin/run.js) run as a subprocess: to its end (synchronously or not), or started and watched. */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

/** The repository root (tests run from dist/test/...). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The `ttj` executable. */
export const ttjBin = join(repoRoot, 'bin', 'run.js');

/** Options of {@link ttj}. */
export interface TtjOptions {
  input?: Buffer;
  cwd?: string;
  /** Killed after this long (status null). */
  timeoutMs?: number;
  /** Run as this user (through runuser). */
  user?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `ttj ARGS` as a subprocess to its end: exit status (null when killed at `timeoutMs`), output, and stdout parsed as JSON when it is.
 */
export function ttj(args: string[], opts: TtjOptions = {}): { status: number | null; stdout: string; stderr: string; json: any } {
  const argv = [process.execPath, ttjBin, ...args];
  const [cmd, ...rest] = opts.user ? ['runuser', '-u', opts.user, '--', ...argv] : argv;
  const r = spawnSync(cmd!, rest, { encoding: 'utf8', input: opts.input, cwd: opts.cwd, timeout: opts.timeoutMs, env: opts.env });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

/** How a ttj CLI subprocess ended: exit code, output, and stdout parsed as JSON (when it is). */
export interface TtjRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** A running `ttj` subprocess: `line(re)` waits for a stderr line (none with --json), `stop()` sends SIGINT and waits for the exit. */
export interface TtjProcess {
  line(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<TtjRun>;
  /** The first line it prints on stdout, parsed as JSON (a command that reports once it is ready, e.g. `ttj ui --json`). */
  firstJson<T>(timeoutMs?: number): Promise<T>;
  done: Promise<TtjRun>;
}

/** Starts `ttj ARGS...` as a subprocess (stdin closed). */
export function startTtj(args: string[]): TtjProcess {
  const child = spawn(process.execPath, [ttjBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<TtjRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
  return {
    done,
    line: (re, timeoutMs = 60000) => waitFor(() => re.exec(stderr), timeoutMs, `${re} on the stderr of ttj ${args[0]}`) as Promise<RegExpExecArray>,
    firstJson: async <T>(timeoutMs = 60000) => JSON.parse(await waitFor(() => /^.*\n/.exec(stdout)?.[0] ?? '', timeoutMs, `a JSON line on the stdout of ttj ${args[0]}`)) as T,
    stop: () => {
      child.kill('SIGINT');
      return done;
    },
  };
}

/** Runs `ttj ARGS...` to its end, asynchronously (the test's event loop keeps running meanwhile, unlike {@link ttj}). */
export function ttjAsync(...args: string[]): Promise<TtjRun> {
  return startTtj(args).done;
}
