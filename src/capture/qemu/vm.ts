/**
 * A QEMU process ttj drives: guest RAM in a shared file it can read, QMP on a unix
 * socket, device state saved and loaded by migration (without the RAM), screendumps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCodes, TtjError, isTtjError, withContext } from '../../errors.js';
import { QmpClient } from './qmp-client.js';
import { encodePng, parsePpm, type ScreenPixels } from './screen-image.js';

/** Bytes a second: no rate limit on a migration (QEMU's default is 128 MiB/s). */
const UNLIMITED_BANDWIDTH = 2 ** 50;
import { defaultAccel, qemuInfo, resolveMachine } from './qemu-info.js';
import { audioArgs, completeConfig, qemuArgs, serialArgs, type DiskSource, type VmConfig, type VmSpec } from './vm-config.js';

/** Options of {@link startVm}. */
export interface StartVmOptions {
  /**
   * The VM to build. Missing fields get defaults: machine `pc` (resolved to its
   * versioned type), accel KVM when usable else TCG, no disks.
   */
  config: VmSpec;
  /** The shared file holding guest RAM. QEMU creates it when missing; an existing file's bytes are the guest's RAM. */
  ramPath: string;
  /** QMP unix socket path. Default: in a private temp dir. */
  qmpPath?: string;
  /**
   * Write the serial console (COM1, ttyS0) to this file. The VM has a serial port when
   * `config.serial` says so, else when a console is asked for (`consolePath` or
   * `consoleStream`); a port without either writes nowhere.
   */
  consolePath?: string;
  /** Expose the serial console as {@link Vm.console} (a stream of QEMU's stdout). Not with `detached`. */
  consoleStream?: boolean;
  /**
   * Write what the guest plays to this WAV file as it plays (QEMU's `wav` audio backend,
   * the PC speaker wired to it; see {@link audioArgs}). Not part of the VM's configuration:
   * the device state loads with or without it.
   */
  audioPath?: string;
  /** The source of each disk named in `config.disks`. */
  disks?: Record<string, DiskSource>;
  /** Start with `-incoming defer`, waiting for {@link Vm.loadDeviceState}. Implies `paused`. */
  incoming?: boolean;
  /** Start with the CPUs stopped (`-S`); {@link Vm.resume} runs them. Default false. */
  paused?: boolean;
  /** The QEMU binary. Default $TTJ_QEMU or qemu-system-x86_64. */
  qemu?: string;
  /** QEMU outlives this process: its own process group, stderr to `<work>/qemu.log`. */
  detached?: boolean;
  /** How long QEMU may take to open its QMP socket. Default 20 s. */
  startTimeoutMs?: number;
}

/** How QEMU ended. */
export interface VmExit {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines QEMU wrote to stderr. */
  stderrTail: string;
}

/** Run states of QMP `query-status` in which the CPUs are stopped. */
const STOPPED = new Set(['paused', 'postmigrate', 'prelaunch', 'inmigrate', 'finish-migrate', 'restore-vm', 'save-vm', 'suspended', 'debug']);

/**
 * A running QEMU with guest RAM in a shared file and a QMP connection. Start one
 * with {@link startVm} (or {@link Vm.start}).
 */
export class Vm {
  /** Resolves when QEMU exits (it never rejects). */
  readonly exited: Promise<VmExit>;
  /** The serial console, when started with `consoleStream`. */
  readonly console: Readable | undefined;
  private exitInfo: VmExit | undefined;
  private migrationServer: Server | undefined;
  private screens = 0;
  private cleaned: Promise<VmExit> | undefined;

  private constructor(
    /** The QEMU process. */
    readonly proc: ChildProcess,
    /** The QMP connection (for commands this class does not wrap). */
    readonly qmp: QmpClient,
    /** How this VM was built, with the QEMU version, resolved machine and argument list: store it to rebuild the VM. */
    readonly config: VmConfig,
    /** The shared file holding guest RAM (read it while the VM is paused). */
    readonly ramPath: string,
    /** The QMP socket. */
    readonly qmpPath: string,
    /** A private directory for sockets and temp files; removed at quit/kill. */
    private readonly work: string,
    exited: Promise<VmExit>,
    private readonly readStderr: () => string,
    /** Whether it was started with `-incoming defer`. */
    readonly incoming: boolean,
  ) {
    this.exited = exited;
    this.console = proc.stdout ?? undefined;
    void exited.then((e) => (this.exitInfo = e));
  }

  /**
   * Starts QEMU and connects to its QMP socket; sets the migration capability
   * `x-ignore-shared` (device state without the shared RAM).
   * @throws TtjError QEMU_MISSING (no QEMU, or older than 7.1), BAD_ARGUMENT (RAM size),
   * QEMU_FAILED (QEMU exited or did not open QMP; with the tail of its stderr).
   */
  static async start(opts: StartVmOptions): Promise<Vm> {
    const info = qemuInfo(opts.qemu);
    const size = opts.config.memorySize;
    if (!Number.isInteger(size) || size <= 0 || size % 1048576 !== 0) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `guest RAM must be a positive whole number of MiB, not ${size} bytes`, { actual: size });
    }
    if (opts.consoleStream && opts.detached) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'a detached VM cannot stream its console; use consolePath');
    const config = completeConfig(opts.config, { accel: defaultAccel(), qemuVersion: info.version });
    config.qemuVersion = info.version;
    config.machine = resolveMachine(info, config.machine);
    const work = mkdtempSync(join(tmpdir(), 'ttj-vm-'));
    const qmpPath = opts.qmpPath ?? join(work, 'qmp.sock');
    rmSync(qmpPath, { force: true });
    const wantsConsole = !!(opts.consolePath || opts.consoleStream);
    config.serial = opts.config.serial ?? wantsConsole;
    if (wantsConsole && !config.serial) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'this VM has no serial port (config.serial is false): there is no console to write');
    const args = [
      ...qemuArgs(config, opts.ramPath, opts.disks ?? {}),
      '-qmp',
      `unix:${qmpPath},server=on,wait=off`,
      ...serialArgs(config.serial, opts),
      ...(opts.audioPath ? audioArgs(opts.audioPath) : []),
      ...(opts.paused || opts.incoming ? ['-S'] : []),
      ...(opts.incoming ? ['-incoming', 'defer'] : []),
    ];
    config.args = args;
    let stderr = '';
    let proc: ChildProcess;
    if (opts.detached) {
      const log = openSync(join(work, 'qemu.log'), 'a');
      proc = spawn(info.binary, args, { stdio: ['ignore', 'ignore', log], detached: true });
      closeSync(log);
    } else {
      // stdin stays an open pipe: QEMU's stdio chardev must not see EOF.
      proc = spawn(info.binary, args, { stdio: [opts.consoleStream ? 'pipe' : 'ignore', opts.consoleStream ? 'pipe' : 'ignore', 'pipe'] });
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
    }
    const readStderr = () => (opts.detached ? readTail(join(work, 'qemu.log')) : stderr);
    // 'exit' can come before the last of stderr: the tail is taken once the pipe has ended
    // (bounded, should a process QEMU started hold the pipe open).
    const stderrEnded = proc.stderr ? new Promise<void>((r) => proc.stderr!.once('close', () => r())) : Promise.resolve();
    const exited = new Promise<VmExit>((resolve) => {
      proc.on('exit', (code, signal) => {
        void Promise.race([stderrEnded, delay(2000)]).then(() => resolve({ code, signal, stderrTail: tail(readStderr()) }));
      });
      proc.on('error', (e) => resolve({ code: -1, signal: null, stderrTail: e.message }));
    });
    let qmp: QmpClient;
    try {
      qmp = await Promise.race([
        QmpClient.connect(qmpPath, opts.startTimeoutMs ?? 20000),
        exited.then((e) => {
          throw new TtjError(ErrorCodes.QEMU_FAILED, `QEMU exited at start (code ${e.code ?? e.signal})`);
        }),
      ]);
      await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
      // The device state goes to this process over a unix socket: QEMU's default rate
      // limit (128 MiB/s) would add ~4 ms to every epoch's pause for ~0.5 MB.
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': UNLIMITED_BANDWIDTH });
    } catch (e) {
      // QEMU refusing to start may close its QMP socket before this process sees it exit:
      // wait a moment for the exit (and the end of its stderr), so the error says why.
      const ownExit = await Promise.race([exited, delay(EXIT_GRACE_MS).then(() => undefined)]);
      proc.kill('SIGKILL');
      const exit = await exited;
      rmSync(work, { recursive: true, force: true });
      throw startFailure(e, ownExit, exit.stderrTail, args);
    }
    return new Vm(proc, qmp, config, opts.ramPath, qmpPath, work, exited, readStderr, !!opts.incoming);
  }

  /** The process id of QEMU. */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** QEMU's last stderr lines. */
  get stderrTail(): string {
    return tail(this.readStderr());
  }

  /** False once QEMU has exited. */
  get running(): boolean {
    return !this.exitInfo;
  }

  /** Stops the CPUs (QMP `stop`). Guest RAM in {@link ramPath} is then stable. */
  async pause(): Promise<void> {
    await this.exec('stop');
  }

  /** Runs the CPUs (QMP `cont`): after a start with `paused`, a pause, a device-state save or load. */
  async resume(): Promise<void> {
    await this.exec('cont');
  }

  /** The run state (`running`, `paused`, `postmigrate`, `inmigrate`, ...). */
  async status(): Promise<string> {
    return (await this.exec<{ status: string }>('query-status')).status;
  }

  /**
   * The device state: a migration stream without the shared RAM (CPU, devices, VGA
   * memory; ~0.6 MB for a small guest). The VM must be paused; it stays paused
   * (state `postmigrate`) and {@link resume} runs it on.
   * @throws TtjError BAD_ARGUMENT (the VM is running), QEMU_FAILED (the migration failed).
   */
  async saveDeviceState(): Promise<Buffer> {
    const status = await this.status();
    if (!STOPPED.has(status)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `pause the VM before saving its device state (it is ${status})`, { actual: status });
    return (await this.startDeviceSave())();
  }

  /**
   * Starts saving the device state (the VM must be paused) and returns a function
   * that waits for it. The migration runs in QEMU's migration thread, so other QMP
   * commands (a screendump) can run meanwhile: `ttj record` overlaps them to keep the
   * pause short. QEMU writes the stream to a unix socket this process listens on.
   */
  async startDeviceSave(): Promise<() => Promise<Buffer>> {
    const sock = join(this.work, 'migrate.sock');
    if (!this.migrationServer) {
      rmSync(sock, { force: true });
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => resolve());
      });
      this.migrationServer = server;
    }
    const server = this.migrationServer;
    const received = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (s) => {
        const parts: Buffer[] = [];
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => resolve(Buffer.concat(parts)));
        s.on('error', reject);
      });
    });
    received.catch(() => undefined);
    await this.exec('migrate', { uri: `unix:${sock}` });
    return async () => {
      // The stream ends as the migration completes: from then on, ask QEMU without
      // backing off (a backed-off poll could keep a paused VM waiting up to 20 ms more).
      // Until then, a backed-off poll notices a failed migration or a timeout.
      const polled = this.waitMigration();
      polled.catch(() => undefined);
      const stream = await Promise.race([received, polled.then(() => received)]);
      await this.waitMigration(60000, 1);
      return stream;
    };
  }

  /** Waits for the current migration to complete, polling with a delay doubling up to `maxDelayMs`; throws when it fails or QEMU exits. */
  private async waitMigration(timeoutMs = 60000, maxDelayMs = 20): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 0.5; ; delay = Math.min(delay * 2, maxDelayMs)) {
      const r = await this.exec<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (r.status === 'completed') return;
      if (r.status === 'failed' || r.status === 'cancelled') {
        throw new TtjError(ErrorCodes.QEMU_FAILED, `migration ${r.status}: ${r['error-desc'] ?? ''} ${this.stderrTail}`.trim(), { stderr: this.stderrTail });
      }
      if (Date.now() > deadline) throw new TtjError(ErrorCodes.QEMU_FAILED, `migration did not complete in ${timeoutMs} ms (status ${r.status}) ${this.stderrTail}`.trim(), { stderr: this.stderrTail });
      await new Promise((res) => setTimeout(res, delay));
    }
  }

  /**
   * Loads a device state into a VM started with `incoming: true` (its RAM file must
   * already hold the guest RAM). Afterwards the VM is paused; {@link resume} runs it.
   * @throws TtjError INCOMPATIBLE_VM when this QEMU cannot load it (QEMU then exits,
   * its stderr in the message and `details.stderr`); BAD_ARGUMENT when the VM was not started incoming.
   */
  async loadDeviceState(data: Buffer, timeoutMs = 30000): Promise<void> {
    if (!this.incoming) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'loadDeviceState needs a VM started with incoming: true');
    const sock = join(this.work, 'incoming.sock');
    rmSync(sock, { force: true });
    try {
      await this.qmp.execute('migrate-incoming', { uri: `unix:${sock}` });
      await new Promise<void>((resolve, reject) => {
        const s = connect(sock, () => s.end(data));
        s.on('close', () => resolve());
        s.on('error', reject);
      });
      await Promise.race([
        this.waitMigration(timeoutMs),
        this.exited.then((e) => {
          throw new TtjError(ErrorCodes.QEMU_FAILED, `QEMU exited while loading the device state: ${e.stderrTail}`);
        }),
      ]);
    } catch (e) {
      // A failed load makes QEMU exit; give it a moment so its stderr says why.
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 500))]);
      const why = isTtjError(e) ? e.message : String(e);
      const stderr = this.stderrTail;
      throw new TtjError(
        ErrorCodes.INCOMPATIBLE_VM,
        `QEMU ${this.config.qemuVersion} cannot load this device state (was it recorded with another QEMU version, machine or devices?): ${why}${stderr && !why.includes(stderr) ? `\n${stderr}` : ''}`,
        { stderr, machine: this.config.machine },
        { cause: e },
      );
    }
  }

  /**
   * The screen's pixels (QMP `screendump` to a PPM, which QEMU writes without
   * compressing: a few ms of its main loop, so it fits in an epoch's pause; encode it
   * with {@link encodePng} once the VM runs again). Works with `-display none`: the VGA
   * device renders on demand.
   */
  async grabScreen(): Promise<ScreenPixels> {
    // A file per call: a frame capture and an epoch capture may overlap.
    const file = join(this.work, `screen-${this.screens++}.ppm`);
    try {
      await this.exec('screendump', { filename: file });
      return parsePpm(await readFile(file));
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** The screen as a PNG: {@link grabScreen}, encoded by ttj ({@link encodePng}). */
  async screendump(): Promise<Buffer> {
    return encodePng(await this.grabScreen());
  }

  /** Reads a 32-bit little-endian word of guest physical memory through QEMU (HMP `xp`). */
  async readPhys32(addr: number): Promise<number> {
    const out = await this.exec<string>('human-monitor-command', { 'command-line': `xp /1wx 0x${addr.toString(16)}` });
    const m = /:\s*0x([0-9a-f]+)/i.exec(out);
    if (!m) throw new TtjError(ErrorCodes.QMP_ERROR, `unexpected xp output: ${out}`);
    return parseInt(m[1]!, 16);
  }

  /** Reads `length` bytes of guest physical memory through QEMU (QMP `pmemsave`). */
  async readPhys(addr: number, length: number): Promise<Buffer> {
    const file = join(this.work, `pmem-${this.screens++}.bin`);
    try {
      await this.exec('pmemsave', { val: addr, size: length, filename: file });
      return await readFile(file);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Stops QEMU: QMP `quit`, then SIGKILL after `graceMs`. Removes the temp directory. */
  async quit(graceMs = 3000): Promise<VmExit> {
    if (this.running) {
      await this.qmp.execute('quit', undefined, graceMs).catch(() => undefined);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    return this.cleanup();
  }

  /** Kills QEMU (SIGKILL) and removes the temp directory. */
  kill(): Promise<VmExit> {
    if (this.running) this.proc.kill('SIGKILL');
    return this.cleanup();
  }

  /**
   * Lets QEMU run on after this process exits (a detached VM): closes QMP; its files
   * (and the paths in `alsoRemove`) are kept while QEMU runs and removed once it exits.
   */
  detach(opts: { alsoRemove?: string[] } = {}): void {
    this.qmp.close();
    this.migrationServer?.close();
    this.proc.unref();
    // The VM's files (its work directory, and `alsoRemove`: the RAM file and disks of a
    // restore) stay while QEMU runs and are removed when it exits, by a small detached
    // process that outlives this one.
    const pid = this.proc.pid;
    if (pid) {
      const reaper = spawn('sh', ['-c', 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; rm -rf -- "$@"', String(pid), this.work, ...(opts.alsoRemove ?? [])], {
        detached: true,
        stdio: 'ignore',
      });
      reaper.on('error', () => undefined);
      reaper.unref();
    }
  }

  /**
   * A QMP command. When it fails because QEMU went away or stopped answering
   * (QEMU_FAILED), the error carries QEMU's stderr, in its message and `details.stderr`.
   */
  private async exec<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return await this.qmp.execute<T>(cmd, args);
    } catch (e) {
      if (!isTtjError(e, ErrorCodes.QEMU_FAILED) || e.details.stderr !== undefined) throw e;
      // A closed QMP connection is usually QEMU exiting: let its last words arrive.
      await Promise.race([this.exited, delay(EXIT_GRACE_MS)]);
      const stderr = this.stderrTail;
      throw withContext(e, stderr ? `${e.message}: ${stderr}` : e.message, { stderr });
    }
  }

  private cleanup(): Promise<VmExit> {
    this.cleaned ??= (async () => {
      const e = await this.exited;
      this.qmp.close();
      this.migrationServer?.close();
      rmSync(this.work, { recursive: true, force: true });
      return e;
    })();
    return this.cleaned;
  }
}

/** How long a failed start waits for QEMU to exit by itself before killing it. */
const EXIT_GRACE_MS = 1000;

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * The error of a failed start: always QEMU_FAILED with QEMU's stderr (in the message and
 * `details.stderr`), whether QEMU exited by itself (`ownExit`) or ttj gave up on it.
 */
function startFailure(e: unknown, ownExit: VmExit | undefined, stderr: string, args: string[]): TtjError {
  const why = ownExit ? `QEMU exited at start (code ${ownExit.code ?? ownExit.signal})` : `QEMU did not start: ${e instanceof Error ? e.message : String(e)}`;
  return new TtjError(ErrorCodes.QEMU_FAILED, stderr ? `${why}: ${stderr}` : why, { stderr, args, exitCode: ownExit?.code ?? null }, { cause: e });
}

function readTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-8192);
  } catch {
    return '';
  }
}

function tail(s: string, lines = 12): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

/**
 * Starts QEMU with guest RAM in the shared file `opts.ramPath`; see {@link StartVmOptions}.
 * @throws TtjError QEMU_MISSING, BAD_ARGUMENT, QEMU_FAILED.
 */
export function startVm(opts: StartVmOptions): Promise<Vm> {
  return Vm.start(opts);
}
