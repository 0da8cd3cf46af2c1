import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, TtjError, type ErrorCode } from '../errors.js';
import { QmpClient } from '../capture/qemu/qmp-client.js';

/** How long `ttj restore --fork` may take to fold the point, write the fork's first epoch and start QEMU. */
const START_TIMEOUT_MS = 180000;
/** How long it may take, once stopped, to commit its last epoch and exit (then it is killed). */
const STOP_TIMEOUT_MS = 120000;

/** The `ttj` executable of this installation (bin/run.js; this file is dist/src/ui/fork-recorder.js). */
const ttjBin = () => join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');

/** What {@link startForkRecording} needs. */
export interface ForkRecordingOptions {
  /** The journal restored from. */
  source: string;
  /** The POINT of it. */
  at: string;
  /** The new journal. */
  target: string;
  /** The password of an encrypted journal (the child reads it from TTJ_PASSWORD). */
  password?: string;
  /** QEMU arguments for the screen (`-vnc ...`). */
  displayArgs: string[];
}

/** A running `ttj restore --fork` (see {@link startForkRecording}). */
export interface ForkRecording {
  /** QEMU's pid. */
  pid: number;
  /** A second QMP monitor of the VM (the recorder holds the first). */
  qmp: QmpClient;
  /** Resolves when the recorder has exited (stopped, or the guest powered off), with its exit code. */
  exited: Promise<number | null>;
  /** Stops it (SIGTERM: it commits a last epoch, quits QEMU, closes the journal) and waits for its exit. */
  stop(): Promise<number | null>;
}

/** The error a `ttj restore` child printed (`ttj: MESSAGE [CODE]`), else one saying how it ended. */
function childError(stderr: string, code: number | null): TtjError {
  const e = /^ttj: (.*) \[(TTJ_[A-Z0-9_]+)\]$/m.exec(stderr);
  if (e) return new TtjError(e[2] as ErrorCode, e[1]!, ...([{}] as unknown as []));
  return new TtjError(ErrorCodes.QEMU_FAILED, `ttj restore --fork ended (exit ${code}) before the VM ran: ${stderr.trim().slice(-500)}`);
}

/**
 * Records a VM restored at a POINT into a new journal, as `ttj restore --fork` does,
 * in a child process (`ttj restore SOURCE --at POINT --fork TARGET`): the recording
 * (pauses, hashing, compression) does not stall the server's requests, and it is the
 * CLI's own path, stopped as the CLI is (SIGTERM: the epoch in flight and a last one
 * are committed). QEMU gets `displayArgs` and a second QMP monitor for the caller.
 * Returns once the VM runs.
 * @throws TtjError what `ttj restore --fork` fails with (JOURNAL_EXISTS, POINT_NOT_FOUND, INCOMPATIBLE_VM, ...).
 */
export async function startForkRecording(opts: ForkRecordingOptions): Promise<ForkRecording> {
  const dir = mkdtempSync(join(tmpdir(), 'ttj-ui-fork-'));
  const qmpPath = join(dir, 'qmp.sock');
  const args = [ttjBin(), 'restore', opts.source, '--at', opts.at, '--fork', opts.target, '--', ...opts.displayArgs, '-qmp', `unix:${qmpPath},server=on,wait=off`];
  const env = { ...process.env, TTJ_PASSWORD: opts.password };
  if (opts.password === undefined) delete env.TTJ_PASSWORD;
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  const started = new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-65536);
      const m = /VM running at .* \(pid (\d+), QMP/.exec(stderr);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(childError(stderr, code)));
    child.once('error', (e) => reject(new TtjError(ErrorCodes.QEMU_FAILED, `cannot start ttj restore: ${e.message}`)));
    setTimeout(() => reject(new TtjError(ErrorCodes.QEMU_FAILED, `ttj restore --fork did not start the VM within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS).unref();
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    const pid = await started;
    const qmp = await QmpClient.connect(qmpPath);
    void exited.then(() => qmp.close());
    return { pid, qmp, exited, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
