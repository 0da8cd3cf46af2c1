/** Child processes for crash tests: started, watched, and killed with SIGKILL at an instant of the test's choosing. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A running child, its output so far, and its end. */
export interface Victim {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly err: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startVictim(cmd: string, args: string[]): Victim {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, err: () => err, exited };
}

/** The pids of a process's children (from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** A process's command line (from /proc), empty when it is gone. */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** SIGKILLs the victim and waits for it; fails when it had exited on its own before. */
export async function killHard(v: Victim): Promise<void> {
  if (v.child.exitCode !== null) throw new Error(`the child exited on its own (${v.child.exitCode}): ${v.err()}`);
  v.child.kill('SIGKILL');
  const { signal } = await v.exited;
  if (signal !== 'SIGKILL') throw new Error(`the child exited before it was killed: ${v.err()}`);
}

/**
 * SIGKILLs the victim unless it finishes first: true when the kill ended it, false when
 * it had exited with 0 on its own (also between the check and the signal); fails when it
 * exited otherwise.
 */
export async function killUnlessDone(v: Victim): Promise<boolean> {
  if (v.child.exitCode === null) v.child.kill('SIGKILL');
  const { code, signal } = await v.exited;
  if (signal === 'SIGKILL') return true;
  if (code !== 0) throw new Error(`the child failed (${code ?? signal}): ${v.err()}`);
  return false;
}

/** Kills a process by pid with SIGKILL (one this test started, e.g. the QEMU of a killed recorder) and waits until it is gone. */
export async function killPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
