import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { ErrorCodes, TtjError } from '../errors.js';
import { diffImage } from '../journal/image-diff.js';
import { diskBlockSizeFor, diskWrites } from '../journal/append-images.js';
import type { IEvent } from '../journal/codec.js';
import { JournalWriter } from '../journal/writer.js';
import { JournalBlockDevice } from './journal-block-device.js';
import { startNbdServer, type NbdServer } from './nbd/index.js';
import { defaultAccel, qemuInfo } from './qemu/qemu-info.js';
import { Vm } from './qemu/vm.js';
import type { DiskSource, VmConfig } from './qemu/vm-config.js';
import { checkRecordTiming, recordVm, type RecordSummary, type RecordVmOptions } from './record-vm.js';

/** Options of {@link record}. */
export interface RecordOptions extends Omit<RecordVmOptions, 'disks'> {
  /** Guest RAM in bytes. Default 256 MiB (or the journal's memory size). */
  memorySize?: number;
  /** Disks: imported into the journal on first use, then served to QEMU over NBD from it. */
  disks?: { name: string; path: string }[];
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Extra QEMU arguments. */
  extraArgs?: string[];
  /** Serial console to this file. */
  consolePath?: string;
  /** QMP socket path. */
  qmpPath?: string;
  /** Accelerator. Default: TTJ_ACCEL when set, else KVM when /dev/kvm opens and the CPU has vmx/svm, else TCG (see defaultAccel). */
  accel?: 'kvm' | 'tcg';
  /** Directory for the RAM file (default /dev/shm when present). */
  ramDir?: string;
  /** Called once QEMU runs. */
  onStart?: (vm: Vm) => void;
}

/** `ttj record --json`. */
export interface RecordResult extends RecordSummary {
  journal: string;
  qemu: { version: string; accel: string; machine: string; exit?: { code: number | null; signal: string | null } };
}

/** A directory for RAM files: tmpfs when there is one (the RAM file is read every epoch). */
export function ramDirectory(prefix: string, dir?: string): string {
  const base = dir ?? (process.platform === 'linux' ? '/dev/shm' : undefined);
  try {
    return mkdtempSync(join(base ?? '/tmp', prefix));
  } catch {
    return mkdtempSync(join('/tmp', prefix));
  }
}

/** Serves journal disks on a unix socket in `dir`; returns the devices, sources and server. */
export async function serveVmDisks(w: JournalWriter, names: string[], dir: string): Promise<{ devices: JournalBlockDevice[]; sources: Record<string, DiskSource>; server?: NbdServer }> {
  if (!names.length) return { devices: [], sources: {} };
  const devices = names.map((n) => JournalBlockDevice.live(w, n));
  const socketPath = join(dir, 'nbd.sock');
  const server = await startNbdServer({ exports: new Map(names.map((n, i) => [n, devices[i]!])), socketPath });
  return { devices, server, sources: Object.fromEntries(names.map((n) => [n, { nbd: server.urlFor(n) }])) };
}

/** Imports a disk image as the initial content of a new journal disk (outside any epoch). */
async function importDisk(w: JournalWriter, name: string, path: string): Promise<void> {
  const { stat } = await import('node:fs/promises');
  const size = (await stat(path).catch((e) => {
    throw new TtjError(ErrorCodes.FILE_NOT_FOUND, `disk image ${path} not found`, { path }, { cause: e });
  })).size;
  if (size === 0 || size % w.pageSize) throw new TtjError(ErrorCodes.SIZE_MISMATCH, `disk image ${path} is ${size} bytes, not a whole number of ${w.pageSize}-byte blocks`, { path, actual: size });
  const bs = diskBlockSizeFor(size, w.pageSize);
  const diff = await diffImage(path, bs, undefined);
  const bodies: IEvent[] = [{ diskCreate: { name, size, blockSize: bs } }];
  diskWrites(name, bs, diff, bodies);
  await w.commit(bodies, diff.blobs);
}

/**
 * `ttj record`: starts QEMU with guest RAM in a shared file, its disks served from
 * the journal over NBD (every write journaled), stores the VM configuration, and
 * records epochs and frames until the duration ends, the guest powers off, or
 * `signal` aborts. QEMU is stopped at the end. A record that fails before its first
 * epoch leaves no journal behind when it created the journal (an existing one keeps
 * what it had, and any disk imported into it).
 * @throws TtjError BAD_ARGUMENT (interval, fps, memory size), FILE_NOT_FOUND (kernel, initrd, disk image),
 * QEMU_MISSING, QEMU_FAILED (QEMU did not start, or died: the journal keeps what was committed), LOCKED, SIZE_MISMATCH.
 */
export async function record(journalDir: string, opts: RecordOptions = {}): Promise<RecordResult> {
  checkRecordTiming(opts);
  for (const [what, path] of [['kernel', opts.kernel], ['initrd', opts.initrd]] as const) if (path !== undefined) checkReadable(what, path);
  const info = qemuInfo();
  const created = !existsSync(journalDir);
  const w = await JournalWriter.openWriter(journalDir, { create: true, command: 'ttj record' });
  const work = ramDirectory('ttj-record-', opts.ramDir);
  let vm: Vm | undefined;
  let server: NbdServer | undefined;
  let failed = true;
  try {
    const have = w.headState.memory ? w.headState.memorySize : undefined;
    const memorySize = opts.memorySize ?? have ?? 256 << 20;
    if (have !== undefined && have !== memorySize) {
      throw new TtjError(ErrorCodes.SIZE_MISMATCH, `the journal's guest has ${have} bytes of RAM, not ${memorySize}`, { expected: have, actual: memorySize });
    }
    if (memorySize % w.pageSize || memorySize < 1 << 20) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `bad memory size ${memorySize}`);
    for (const d of opts.disks ?? []) if (!w.headState.disks.has(d.name)) await importDisk(w, d.name, d.path);
    const config: VmConfig = {
      qemuVersion: info.version,
      machine: 'pc',
      accel: opts.accel ?? defaultAccel(),
      memorySize,
      kernel: opts.kernel ? resolve(opts.kernel) : undefined,
      initrd: opts.initrd ? resolve(opts.initrd) : undefined,
      append: opts.append,
      disks: (opts.disks ?? []).map((d) => ({ name: d.name, interface: 'ide' as const })),
      extraArgs: opts.extraArgs ?? [],
    };
    const served = await serveVmDisks(w, config.disks.map((d) => d.name), work);
    server = served.server;
    vm = await Vm.start({ config, ramPath: join(work, 'ram'), disks: served.sources, consolePath: opts.consolePath, qmpPath: opts.qmpPath });
    // The configuration QEMU was started with (the machine resolved to its versioned
    // type, e.g. pc-i440fx-7.2): what a restore must start again to load the state.
    const started = vm.config;
    await w.commit([{ vmConfig: { qemuVersion: started.qemuVersion, machine: started.machine, memorySize: started.memorySize, args: started.extraArgs, json: JSON.stringify(started) } }]);
    await vm.resume();
    opts.onStart?.(vm);
    const summary = await recordVm(w, vm, { ...opts, disks: served.devices });
    const exit = await vm.quit();
    failed = false;
    return { ...summary, journal: journalDir, qemu: { version: info.version, accel: started.accel, machine: started.machine, exit: { code: exit.code, signal: exit.signal } } };
  } finally {
    if (vm?.running) await vm.kill();
    await server?.close();
    const noEpoch = w.lastCommittedEpoch < 0;
    await w.close();
    rmSync(work, { recursive: true, force: true });
    // A journal this record created and failed to put an epoch in is not left behind.
    if (failed && created && noEpoch) rmSync(journalDir, { recursive: true, force: true });
  }
}

/** @throws TtjError FILE_NOT_FOUND when `path` cannot be read. */
function checkReadable(what: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw new TtjError(ErrorCodes.FILE_NOT_FOUND, `the ${what} ${path} cannot be read (${(e as NodeJS.ErrnoException).code})`, { path }, { cause: e });
  }
}
