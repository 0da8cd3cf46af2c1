import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, TtjError, isTtjError, withContext } from '../errors.js';
import { fold } from '../journal/fold.js';
import { forkJournal } from '../journal/fork.js';
import { Journal } from '../journal/journal.js';
import type { JournalWriter } from '../journal/writer.js';
import type { NbdServer } from '../capture/nbd/index.js';
import { kvmUsable, qemuInfo } from '../capture/qemu/qemu-info.js';
import type { Vm } from '../capture/qemu/vm.js';
import { restoreVm } from '../capture/qemu/restore-vm.js';
import { hasSerialPort, type DiskSource, type VmConfig } from '../capture/qemu/vm-config.js';
import { ramDirectory, serveVmDisks } from '../capture/record.js';
import { checkRecordTiming, recordVm, type RecordSummary, type RecordVmOptions } from '../capture/record-vm.js';

/** Options of {@link restore}. */
export interface RestoreOptions extends Omit<RecordVmOptions, 'disks'> {
  /** The POINT to resume from. */
  at: string;
  /** Keep recording the restored VM into this new journal (the original is never changed). */
  fork?: string;
  /** Leave the VM paused after loading its state. */
  paused?: boolean;
  /** Return once the VM is up and leave it running (not with `fork`). */
  detach?: boolean;
  qmpPath?: string;
  consolePath?: string;
  /** Extra QEMU arguments (e.g. a display). */
  extraArgs?: string[];
  ramDir?: string;
  /** Called once the VM runs (or is paused) at the point. */
  onStart?: (vm: Vm) => void;
}

/** `ttj restore --json`. */
export interface RestoreResult {
  journal: string;
  point: string;
  epoch: number;
  frame?: number;
  seq: number;
  pid?: number;
  qmp: string;
  /** Where the VM's RAM file and disk files are (kept for a detached VM). */
  workDir: string;
  fork?: string;
  recorded?: RecordSummary;
  exit?: { code: number | null; signal: string | null };
}

/**
 * `ttj restore`: folds memory, device state and disks at a POINT, starts QEMU with
 * the recorded configuration and `-incoming`, migrates the device state in, and lets
 * the VM run on from exactly there. With `fork`, the restored VM's disks are served
 * from the new journal and it keeps recording into it. Without `detach`, returns
 * when QEMU exits or `signal` aborts (then QEMU is stopped).
 * @throws TtjError POINT_NOT_FOUND, INCOMPATIBLE_VM (no recorded VM, or this QEMU cannot load its state), QEMU_MISSING, QEMU_FAILED.
 */
export async function restore(journalDir: string, opts: RestoreOptions): Promise<RestoreResult> {
  if (opts.fork && (opts.detach || opts.paused)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, '--fork records the restored VM in this process: it cannot be combined with --detach or --paused');
  if (opts.fork) checkRecordTiming(opts);
  qemuInfo();
  const j = await Journal.open(journalDir, { password: opts.password });
  const work = ramDirectory('ttj-restore-', opts.ramDir);
  let keep = false;
  let writer: JournalWriter | undefined;
  let server: NbdServer | undefined;
  let vm: Vm | undefined;
  try {
    const m = await fold(j, { at: opts.at, out: work });
    const cfgEntry = await j.vmConfigAt(m.seq);
    if (!cfgEntry) throw new TtjError(ErrorCodes.INCOMPATIBLE_VM, `no VM was recorded at ${opts.at} (this journal has no vm_config event): fold it instead`, { point: opts.at });
    const recorded = JSON.parse(cfgEntry.json) as VmConfig;
    if (!m.device || !m.memory) throw new TtjError(ErrorCodes.INCOMPATIBLE_VM, `the state at ${opts.at} has no memory or device state to resume`, { point: opts.at });
    if (m.memory.size !== recorded.memorySize) throw new TtjError(ErrorCodes.INCOMPATIBLE_VM, `the folded memory (${m.memory.size} bytes) does not match the recorded VM (${recorded.memorySize})`);
    // The recorded device set, whatever this restore's flags: a serial port recorded is a
    // serial port now (its output to --console, else nowhere), and none recorded is none.
    const config: VmConfig = {
      ...recorded,
      accel: recorded.accel === 'kvm' && !kvmUsable() ? 'tcg' : recorded.accel,
      serial: hasSerialPort(recorded),
      extraArgs: [...recorded.extraArgs, ...(opts.extraArgs ?? [])],
    };
    if (opts.consolePath && !config.serial) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the recorded VM had no serial port, so it has no console to write (record with --console to give it one)`, { point: opts.at });
    }
    for (const f of [config.kernel, config.initrd]) {
      try {
        if (f) accessSync(f, constants.R_OK);
      } catch {
        throw new TtjError(ErrorCodes.INCOMPATIBLE_VM, `the recorded VM booted ${f}, which is gone (QEMU needs the same kernel and initrd to load its state)`, { path: f });
      }
    }
    let sources: Record<string, DiskSource>;
    let devices: Awaited<ReturnType<typeof serveVmDisks>>['devices'] = [];
    if (opts.fork) {
      const parent = j;
      writer = (await forkJournal(parent, opts.at, opts.fork, 'ttj restore --fork', undefined, opts.password)).writer;
      const served = await serveVmDisks(
        writer,
        config.disks.map((d) => d.name),
        work,
      );
      sources = served.sources;
      devices = served.devices;
      server = served.server;
    } else {
      sources = Object.fromEntries(config.disks.map((d) => [d.name, { file: join(work, 'disks', `${d.name}.raw`) }]));
    }
    const deviceState = readFileSync(join(work, 'device.bin'));
    const start = { config, ramPath: join(work, 'memory.raw'), deviceState, disks: sources, qmpPath: opts.qmpPath, consolePath: opts.consolePath, detached: opts.detach, paused: opts.paused };
    vm = await restoreVm(start).catch((e: unknown) => {
      if (!isTtjError(e, ErrorCodes.INCOMPATIBLE_VM)) throw e;
      throw withContext(e, e.message, { recordedQemu: recorded.qemuVersion, installedQemu: qemuInfo().version });
    });
    opts.onStart?.(vm);
    const result: RestoreResult = { journal: journalDir, point: m.point, epoch: m.epoch, frame: m.frame, seq: m.seq, pid: vm.proc.pid, qmp: vm.qmpPath, workDir: work, fork: opts.fork };
    if (opts.detach) {
      keep = true;
      vm.detach({ alsoRemove: [work] });
      return result;
    }
    if (writer) {
      result.recorded = await recordVm(writer, vm, { ...opts, disks: devices });
      const exit = await vm.quit();
      result.exit = { code: exit.code, signal: exit.signal };
    } else {
      const aborted = new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r()));
      const durationOver = opts.durationMs !== undefined ? new Promise<void>((r) => setTimeout(r, opts.durationMs)) : new Promise<void>(() => undefined);
      await Promise.race([vm.exited, aborted, durationOver]);
      const exit = await vm.quit();
      result.exit = { code: exit.code, signal: exit.signal };
    }
    return result;
  } finally {
    if (!keep && vm?.running) await vm.kill();
    await server?.close();
    await writer?.close();
    await j.close();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
}
