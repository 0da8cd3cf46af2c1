/**
 * How long the command line takes to start, against `node -e 0` in the same run: `ttj
 * --version`, `ttj --help` and `ttj log` of a one-epoch journal, each as a whole process
 * (spawn to exit, bin/run.js as a user runs it). The commands are run in turns (node,
 * version, help, log, node, ...) so load on the machine falls on all of them alike; each
 * figure is the median of its runs, wall clock and CPU time (user + system, from the
 * children's rusage) both, since CPU time is steadier on a shared machine.
 *
 * Standalone: `node dist/journal-tools/bench/cli-start.js [--runs N]` prints the figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { childrenCpuMs } from './proc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'run.js');

/** One command's medians. */
export interface StartFigure {
  wallMs: number;
  cpuMs: number;
}

export interface CliStartFigures {
  runs: number;
  node: StartFigure;
  version: StartFigure;
  help: StartFigure;
  log: StartFigure;
  /** Each command / `node -e 0`, wall clock. */
  ratio: { version: number; help: number; log: number };
  /** The same in CPU time. */
  cpuRatio: { version: number; help: number; log: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeOnce(args: string[]): StartFigure {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, TTJ_NO_REEXEC: '1' } });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return { wallMs, cpuMs: childrenCpuMs() - cpu0 };
}

/** Measures the start of `ttj --version`, `ttj --help` and `ttj log` against `node -e 0`, `runs` times each, in turns. */
export function cliStartFigures(runs = 15): CliStartFigures {
  const dir = mkdtempSync(join(tmpdir(), 'ttj-cli-start-'));
  try {
    const img = join(dir, 'memory.img');
    writeFileSync(img, Buffer.alloc(1 << 20, 7));
    const journal = join(dir, 'small.j');
    const made = spawnSync(process.execPath, [bin, 'append', journal, '--memory', img, '--label', 'start'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`ttj append failed: ${made.stderr}`);
    const commands = { node: ['-e', '0'], version: [bin, '--version'], help: [bin, '--help'], log: [bin, 'log', journal] };
    const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, [] as StartFigure[]])) as Record<keyof typeof commands, StartFigure[]>;
    for (const args of Object.values(commands)) timeOnce(args); // warm the page cache
    for (let i = 0; i < runs; i++) for (const [k, args] of Object.entries(commands)) samples[k as keyof typeof commands].push(timeOnce(args));
    const fig = (k: keyof typeof commands): StartFigure => ({ wallMs: median(samples[k].map((s) => s.wallMs)), cpuMs: median(samples[k].map((s) => s.cpuMs)) });
    const node = fig('node');
    const version = fig('version');
    const help = fig('help');
    const log = fig('log');
    return {
      runs,
      node,
      version,
      help,
      log,
      ratio: { version: version.wallMs / node.wallMs, help: help.wallMs / node.wallMs, log: log.wallMs / node.wallMs },
      cpuRatio: { version: version.cpuMs / node.cpuMs, help: help.cpuMs / node.cpuMs, log: log.cpuMs / node.cpuMs },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--runs');
  console.log(JSON.stringify(cliStartFigures(i > 0 ? Number(process.argv[i + 1]) : 15), null, 2));
}
