import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, TtjError, isTtjError } from '../../errors.js';
import { QmpClient } from './qmp-client.js';
import { qemuInfo } from './qemu-info.js';
import { qemuArgs, type DiskSource, type VmConfig } from './vm-config.js';

/** Options of {@link startVm}. */
export interface StartVmOptions {
  config: VmConfig;
  /** The shared file holding guest RAM (created by QEMU when missing). */
  ramPath: string;
  /** QMP unix socket path. Default: in a private temp dir. */
  qmpPath?: string;
  /** Serial console output file. Default: none. */
  consolePath?: string;
  disks?: Record<string, DiskSource>;
  /** Start with `-incoming defer` (then {@link Vm.loadDeviceState}). */
  incoming?: boolean;
  /** QEMU binary. Default $TTJ_QEMU or qemu-system-x86_64. */
  qemu?: string;
  /** QEMU outlives this process: its own process group, stderr to `<work>/qemu.log`. */
  detached?: boolean;
}

/** How QEMU ended. */
export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines QEMU wrote to stderr. */
  stderrTail: string;
}

/**
 * A running QEMU with guest RAM in a shared file and a QMP socket. It always starts
 * paused (-S); `resume()` runs it.
 */
export class Vm {
  readonly exited: Promise<VmExit>;
  private exitInfo: VmExit | undefined;
  private migrationServer: Server | undefined;
  private screens = 0;
  private readonly work: string;

  private constructor(
    readonly proc: ChildProcess,
    readonly qmp: QmpClient,
    readonly config: VmConfig,
    readonly ramPath: string,
    readonly qmpPath: string,
    work: string,
    exited: Promise<VmExit>,
    private readonly readStderr: () => string,
  ) {
    this.exited = exited;
    this.work = work;
    void exited.then((e) => (this.exitInfo = e));
  }

  /**
   * Starts QEMU paused.
   * @throws TtjError QEMU_MISSING, QEMU_FAILED (with the tail of QEMU's stderr).
   */
  static async start(opts: StartVmOptions): Promise<Vm> {
    const info = qemuInfo(opts.qemu);
    const work = mkdtempSync(join(tmpdir(), 'ttj-vm-'));
    const qmpPath = opts.qmpPath ?? join(work, 'qmp.sock');
    rmSync(qmpPath, { force: true });
    const args = [
      ...qemuArgs(opts.config, opts.ramPath, opts.disks ?? {}),
      '-qmp', `unix:${qmpPath},server=on,wait=off`,
      '-S',
      ...(opts.consolePath ? ['-serial', `file:${opts.consolePath}`] : []),
      ...(opts.incoming ? ['-incoming', 'defer'] : []),
    ];
    let stderr = '';
    let proc: ChildProcess;
    if (opts.detached) {
      const log = openSync(join(work, 'qemu.log'), 'a');
      proc = spawn(info.binary, args, { stdio: ['ignore', 'ignore', log], detached: true });
      closeSync(log);
    } else {
      proc = spawn(info.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
    }
    const readStderr = () => (opts.detached ? readTail(join(work, 'qemu.log')) : stderr);
    const exited = new Promise<VmExit>((resolve) => {
      proc.on('exit', (code, signal) => resolve({ code, signal, stderrTail: tail(readStderr()) }));
      proc.on('error', (e) => resolve({ code: -1, signal: null, stderrTail: e.message }));
    });
    let qmp: QmpClient;
    try {
      qmp = await Promise.race([
        QmpClient.connect(qmpPath, 20000),
        exited.then((e) => {
          throw new TtjError(ErrorCodes.QEMU_FAILED, `QEMU exited at start (code ${e.code}): ${e.stderrTail}`, { stderr: e.stderrTail, args });
        }),
      ]);
    } catch (e) {
      proc.kill('SIGKILL');
      rmSync(work, { recursive: true, force: true });
      throw e;
    }
    const vm = new Vm(proc, qmp, { ...opts.config, qemuVersion: info.version }, opts.ramPath, qmpPath, work, exited, readStderr);
    await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
    return vm;
  }

  /** QEMU's last stderr lines. */
  get stderrTail(): string {
    return tail(this.readStderr());
  }

  get running(): boolean {
    return !this.exitInfo;
  }

  async pause(): Promise<void> {
    await this.qmp.execute('stop');
  }

  async resume(): Promise<void> {
    await this.qmp.execute('cont');
  }

  /** The run state (`running`, `paused`, `postmigrate`, `inmigrate`, ...). */
  async status(): Promise<string> {
    return (await this.qmp.execute<{ status: string }>('query-status')).status;
  }

  /**
   * The device state (a migration stream without the shared RAM). The VM must be paused.
   * @throws TtjError QEMU_FAILED when the migration fails.
   */
  async saveDeviceState(): Promise<Buffer> {
    return (await this.startDeviceSave())();
  }

  /**
   * Starts saving the device state and returns a function that waits for it. The
   * migration runs in QEMU's migration thread, so other QMP commands (a screendump)
   * can run meanwhile: `ttj record` overlaps them to keep the pause short.
   */
  async startDeviceSave(): Promise<() => Promise<Buffer>> {
    const sock = join(this.work, 'migrate.sock');
    if (!this.migrationServer) {
      rmSync(sock, { force: true });
      this.migrationServer = createServer();
      await new Promise<void>((r) => this.migrationServer!.listen(sock, r));
    }
    const received = new Promise<Buffer>((resolve, reject) => {
      this.migrationServer!.once('connection', (s) => {
        const parts: Buffer[] = [];
        s.on('data', (d: Buffer) => parts.push(d));
        s.on('end', () => resolve(Buffer.concat(parts)));
        s.on('error', reject);
      });
    });
    await this.qmp.execute('migrate', { uri: `unix:${sock}` });
    return async () => {
      const data = await Promise.race([received, this.waitMigration().then(() => received)]);
      await this.waitMigration();
      return data;
    };
  }

  /** Waits for the current migration to complete; throws when it fails. */
  private async waitMigration(timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
      const r = await this.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (r.status === 'completed') return;
      if (r.status === 'failed' || r.status === 'cancelled') {
        throw new TtjError(ErrorCodes.QEMU_FAILED, `migration ${r.status}: ${r['error-desc'] ?? ''} ${this.stderrTail}`.trim());
      }
      if (Date.now() > deadline) throw new TtjError(ErrorCodes.QEMU_FAILED, `migration did not complete in ${timeoutMs} ms (status ${r.status})`);
      await new Promise((res) => setTimeout(res, delay));
    }
  }

  /**
   * Loads a device state into a VM started with `incoming: true`; the VM stays paused.
   * @throws TtjError INCOMPATIBLE_VM when this QEMU cannot load it.
   */
  async loadDeviceState(data: Buffer): Promise<void> {
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
        this.waitMigration(30000),
        this.exited.then((e) => {
          throw new TtjError(ErrorCodes.QEMU_FAILED, `QEMU exited while loading the device state: ${e.stderrTail}`);
        }),
      ]);
    } catch (e) {
      const why = isTtjError(e) ? e.message : String(e);
      throw new TtjError(ErrorCodes.INCOMPATIBLE_VM, `QEMU ${this.config.qemuVersion} cannot load the recorded device state: ${why}`, { stderr: this.stderrTail }, { cause: e });
    }
  }

  /** The screen as a PNG (QEMU >= 7.1). */
  async screendump(): Promise<Buffer> {
    // A file per call: a frame capture and an epoch capture may overlap.
    const file = join(this.work, `screen-${this.screens++}.png`);
    try {
      await this.qmp.execute('screendump', { filename: file, format: 'png' });
      return readFileSync(file);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Reads a 32-bit little-endian word of guest physical memory over QMP. */
  async readPhys32(addr: number): Promise<number> {
    const out = await this.qmp.hmp(`xp /1wx 0x${addr.toString(16)}`);
    const m = /:\s*0x([0-9a-f]+)/i.exec(out);
    if (!m) throw new TtjError(ErrorCodes.QMP_ERROR, `unexpected xp output: ${out}`);
    return parseInt(m[1]!, 16);
  }

  /** Stops QEMU (quit, then SIGKILL after `graceMs`). */
  async quit(graceMs = 3000): Promise<VmExit> {
    if (this.running) {
      await this.qmp.execute('quit', undefined, graceMs).catch(() => undefined);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    return this.cleanup();
  }

  /** Lets QEMU run on after this process exits (a detached VM): closes QMP, keeps its files. */
  detach(): void {
    this.qmp.close();
    this.migrationServer?.close();
    this.proc.unref();
  }

  kill(): Promise<VmExit> {
    this.proc.kill('SIGKILL');
    return this.cleanup();
  }

  private async cleanup(): Promise<VmExit> {
    const e = await this.exited;
    this.qmp.close();
    this.migrationServer?.close();
    rmSync(this.work, { recursive: true, force: true });
    return e;
  }
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

/** Starts a VM; see {@link Vm.start}. */
export const startVm = (opts: StartVmOptions) => Vm.start(opts);
