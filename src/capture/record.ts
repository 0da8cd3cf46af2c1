import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { MovingWindow, type MovingWindowOptions } from '../journal/moving-window.js';
import { stat } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import { diffImage } from '../journal/image-diff.js';
import { checkDiskImageSize, diskBlockSizeFor } from '../journal/append-images.js';
import { diskWriteEvents } from '../journal/change-events.js';
import type { IEvent } from '../journal/codec.js';
import { Journal } from '../journal/journal.js';
import { JournalWriter } from '../journal/writer.js';
import type { SigningKey } from '../journal/signing-key.js';
import { JournalBlockDevice } from './journal-block-device.js';
import { FileBlockDevice, startNbdServer, type BlockDevice, type NbdServer } from './nbd/index.js';
import { HandoverBlockDevice } from './handover-block-device.js';
import { defaultAccel, qemuInfo } from './qemu/qemu-info.js';
import { Vm } from './qemu/vm.js';
import { WavTap } from './qemu/wav-tap.js';
import type { DiskSource, VmConfig } from './qemu/vm-config.js';
import { checkRecordTiming, recordVm, type RecordSummary, type RecordVmOptions } from './record-vm.js';

/** Options of {@link record}. */
export interface RecordOptions extends Omit<RecordVmOptions, 'disks' | 'audio'> {
  /** A journal this record creates is encrypted with `password`. */
  encrypt?: boolean;
  /**
   * Record the guest's sound: QEMU writes what the PC speaker (and any sound device wired
   * to audiodev `ttjsnd`) plays, and each capture appends it as an audio event (docs/qemu.md, "Sound").
   */
  audio?: boolean;
  /** Guest RAM in bytes. Default 256 MiB (or the journal's memory size). */
  memorySize?: number;
  /** Disks: imported into the journal on first use, then served to QEMU over NBD from it. */
  disks?: { name: string; path: string }[];
  /** Sign every batch recorded with this key (docs/format.md, "Signatures"). */
  signWith?: SigningKey;
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
  /** A moving retention window (`--keep-within`, `--max-size`): old epochs are pruned while recording. */
  window?: MovingWindowOptions;
}

/** `ttj record --json`. */
export interface RecordResult extends RecordSummary {
  journal: string;
  /** Prunes the moving window ran while recording (`--keep-within`, `--max-size`). */
  prunes: number;
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

/** Serves block devices by name on a unix socket in `dir`; returns the server and QEMU's sources. */
async function serveDevices(exports: Map<string, BlockDevice>, dir: string): Promise<{ sources: Record<string, DiskSource>; server?: NbdServer }> {
  if (!exports.size) return { sources: {} };
  const server = await startNbdServer({ exports, socketPath: join(dir, 'nbd.sock') });
  return { server, sources: Object.fromEntries([...exports.keys()].map((n) => [n, { nbd: server.urlFor(n) }])) };
}

/** Serves journal disks on a unix socket in `dir`; returns the devices, sources and server. */
export async function serveVmDisks(w: JournalWriter, names: string[], dir: string): Promise<{ devices: JournalBlockDevice[]; sources: Record<string, DiskSource>; server?: NbdServer }> {
  const devices = names.map((n) => JournalBlockDevice.live(w, n));
  return { devices, ...(await serveDevices(new Map(names.map((n, i) => [n, devices[i]!])), dir)) };
}

/** The disks of a record being served; see {@link serveRecordDisks}. */
interface RecordDisks {
  sources: Record<string, DiskSource>;
  /** Imports the new disks into the journal and hands their exports over to it; returns every disk's journal device. */
  attach(): Promise<JournalBlockDevice[]>;
  close(): Promise<void>;
}

/**
 * Serves a record's disks on a unix socket in `dir`. A disk the journal has is served
 * live from it; a new one from its image until {@link RecordDisks.attach} imports it. So
 * QEMU starts (and reads its disks) before the journal changes, and a QEMU that does not
 * start leaves the journal as it was.
 */
async function serveRecordDisks(w: JournalWriter, disks: { name: string; path: string }[], dir: string): Promise<RecordDisks> {
  const live = new Map<string, JournalBlockDevice>();
  const exports = new Map<string, BlockDevice>();
  const fresh: { name: string; path: string; device: HandoverBlockDevice }[] = [];
  const images: FileBlockDevice[] = [];
  const closeImages = () => Promise.all(images.map((i) => i.close().catch(() => undefined)));
  let served: Awaited<ReturnType<typeof serveDevices>>;
  try {
    for (const d of disks) {
      if (w.headState.disks.has(d.name)) {
        live.set(d.name, JournalBlockDevice.live(w, d.name));
        exports.set(d.name, live.get(d.name)!);
        continue;
      }
      const { size, blockSize } = await diskImage(w, d.path);
      const image = await FileBlockDevice.open(d.path, { readOnly: true, blockSize });
      images.push(image);
      const device = new HandoverBlockDevice(image, size, blockSize);
      fresh.push({ ...d, device });
      exports.set(d.name, device);
    }
    served = await serveDevices(exports, dir);
  } catch (e) {
    await closeImages();
    throw e;
  }
  return {
    sources: served.sources,
    attach: async () => {
      for (const f of fresh) {
        await importDisk(w, f.name, f.path);
        live.set(f.name, JournalBlockDevice.live(w, f.name));
        f.device.attach(live.get(f.name)!);
      }
      return disks.map((d) => live.get(d.name)!);
    },
    close: async () => {
      await served.server?.close();
      await closeImages();
    },
  };
}

/**
 * A disk image to import: its size and the journal block size for it.
 * @throws TtjError FILE_NOT_FOUND, SIZE_MISMATCH.
 */
async function diskImage(w: JournalWriter, path: string): Promise<{ size: number; blockSize: number }> {
  const size = (
    await stat(path).catch((e) => {
      throw new TtjError(ErrorCodes.FILE_NOT_FOUND, `disk image ${path} not found`, { path }, { cause: e });
    })
  ).size;
  checkDiskImageSize(size, path);
  return { size, blockSize: diskBlockSizeFor(size, w.pageSize) };
}

/** Imports a disk image as the initial content of a new journal disk (outside any epoch). */
async function importDisk(w: JournalWriter, name: string, path: string): Promise<void> {
  const { size, blockSize: bs } = await diskImage(w, path);
  const diff = await diffImage(path, bs, undefined);
  const bodies: IEvent[] = [{ diskCreate: { name, size, blockSize: bs } }];
  diskWriteEvents(name, size, bs, diff, bodies);
  await w.commit(bodies, diff.blobs);
}

/**
 * `ttj record`: starts QEMU with guest RAM in a shared file, its disks served from
 * the journal over NBD (every write journaled), stores the VM configuration, and
 * records epochs and frames until the duration ends, the guest powers off, or
 * `signal` aborts. QEMU is stopped at the end. A record that fails before its first
 * epoch leaves no journal behind when it created the journal; an existing journal is
 * unchanged until QEMU runs (new disks are served from their images while QEMU starts,
 * then imported).
 * @throws TtjError BAD_ARGUMENT (interval, fps, memory size), FILE_NOT_FOUND (kernel, initrd, disk image),
 * QEMU_MISSING, QEMU_FAILED (QEMU did not start, or died: the journal keeps what was committed), LOCKED, SIZE_MISMATCH.
 */
export async function record(journalDir: string, opts: RecordOptions = {}): Promise<RecordResult> {
  checkRecordTiming(opts);
  for (const [what, path] of [
    ['kernel', opts.kernel],
    ['initrd', opts.initrd],
  ] as const)
    if (path !== undefined) checkReadable(what, path);
  const info = qemuInfo();
  const created = !(await Journal.exists(journalDir));
  const w = await JournalWriter.openWriter(journalDir, { create: true, command: 'ttj record', signWith: opts.signWith, password: opts.password, encrypt: opts.encrypt });
  const work = ramDirectory('ttj-record-', opts.ramDir);
  let vm: Vm | undefined;
  let served: RecordDisks | undefined;
  let tap: WavTap | undefined;
  let failed = true;
  try {
    const have = w.headState.memory ? w.headState.memorySize : undefined;
    const memorySize = opts.memorySize ?? have ?? 256 << 20;
    if (have !== undefined && have !== memorySize) {
      throw new TtjError(ErrorCodes.SIZE_MISMATCH, `the journal's guest has ${have} bytes of RAM, not ${memorySize}`, { expected: have, actual: memorySize });
    }
    if (memorySize % w.pageSize || memorySize < 1 << 20) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `bad memory size ${memorySize}`);
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
    served = await serveRecordDisks(w, opts.disks ?? [], work);
    const audioPath = opts.audio ? join(work, 'audio.wav') : undefined;
    vm = await Vm.start({ config, ramPath: join(work, 'ram'), disks: served.sources, consolePath: opts.consolePath, qmpPath: opts.qmpPath, paused: true, audioPath });
    tap = audioPath ? new WavTap(audioPath) : undefined;
    // QEMU is up: from here on the journal changes (new disks imported, the config stored).
    const devices = await served.attach();
    // The configuration QEMU was started with (the machine resolved to its versioned
    // type, e.g. pc-i440fx-7.2): what a restore must start again to load the state.
    const started = vm.config;
    await w.commit([{ vmConfig: { qemuVersion: started.qemuVersion, machine: started.machine, memorySize: started.memorySize, args: started.extraArgs, json: JSON.stringify(started) } }]);
    await vm.resume();
    opts.onStart?.(vm);
    const window = new MovingWindow(w, opts.window ?? {});
    const summary = await recordVm(w, vm, {
      ...opts,
      disks: devices,
      audio: tap,
      onEpoch: (e) => {
        opts.onEpoch?.(e);
        window.poke();
      },
    });
    await window.idle();
    const exit = await vm.quit();
    failed = false;
    return { ...summary, journal: journalDir, prunes: window.prunes, qemu: { version: info.version, accel: started.accel, machine: started.machine, exit: { code: exit.code, signal: exit.signal } } };
  } finally {
    if (vm?.running) await vm.kill();
    await tap?.close();
    await served?.close();
    const noEpoch = w.lastCommittedEpoch < 0;
    await w.close();
    rmSync(work, { recursive: true, force: true });
    // A journal this record created and failed to put an epoch in is not left behind.
    if (failed && created && noEpoch) await Journal.remove(journalDir).catch(() => undefined);
  }
}

/** @throws TtjError FILE_NOT_FOUND (or PERMISSION, ...: see toTtjError) when `path` cannot be read. */
function checkReadable(what: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw toTtjError(e, { path, what: `the ${what} ${path}` });
  }
}
