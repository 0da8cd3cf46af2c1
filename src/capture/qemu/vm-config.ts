/**
 * How a VM is built, and the QEMU command line for it. A {@link VmConfig} is what
 * ttj stores with a recording: the device state (a migration stream) only loads into
 * a QEMU with the same machine type, RAM size, devices and ROMs, so `ttj restore`
 * rebuilds the VM from it.
 */
import { ErrorCodes, TtjError } from '../../errors.js';

/** A disk's bus: IDE (the boot-sector guest's, legacy guests) or virtio-blk. */
type DiskInterface = 'ide' | 'virtio';

/** How a recorded VM was built. */
export interface VmConfig {
  /** The QEMU version that ran it (`7.2.22`); filled in by the launcher. */
  qemuVersion: string;
  /**
   * The machine type. An alias (`pc`, `q35`) is resolved by the launcher to the
   * versioned type (`pc-i440fx-7.2`), which is what to store: a newer QEMU still
   * builds that exact machine.
   */
  machine: string;
  /** The accelerator. The device state of a TCG guest loads under KVM and back. */
  accel: 'kvm' | 'tcg';
  /** Guest RAM in bytes (a multiple of 1 MiB). */
  memorySize: number;
  /** A kernel to boot directly (`-kernel`). */
  kernel?: string;
  /** Its initrd (`-initrd`). */
  initrd?: string;
  /** Its command line (`-append`). */
  append?: string;
  /** Disks, in drive order (the first boots when there is no kernel). */
  disks: { name: string; interface: DiskInterface }[];
  /** Extra QEMU arguments (given after `--`), added last. */
  extraArgs: string[];
  /**
   * The VM has a serial port (COM1, ttyS0): its state is in the device state, so a
   * restore must have one too. Where its output goes is a per-run choice (a file, a
   * stream, or nowhere). Absent in configs stored before it was recorded: see
   * {@link hasSerialPort}.
   */
  serial?: boolean;
  /**
   * The whole QEMU argument list as it ran (informational: it names per-run paths
   * such as the RAM file and QMP socket). Filled in by the launcher.
   */
  args?: string[];
}

/** Where a disk's bytes come from when QEMU starts: a raw file, or an NBD URL (`nbd+unix:///NAME?socket=PATH`). */
export type DiskSource = { nbd: string } | { file: string };

/** The parts of a {@link VmConfig} a caller must give; the launcher fills in the rest. */
export type VmSpec = Pick<VmConfig, 'memorySize'> & Partial<Omit<VmConfig, 'memorySize'>>;

/** A full config from a spec: machine `pc`, no disks, no extra args; accel and version as given (or empty). */
export function completeConfig(spec: VmSpec, defaults: { accel: 'kvm' | 'tcg'; qemuVersion: string }): VmConfig {
  const cfg: VmConfig = {
    qemuVersion: spec.qemuVersion || defaults.qemuVersion,
    machine: spec.machine || 'pc',
    accel: spec.accel ?? defaults.accel,
    memorySize: spec.memorySize,
    disks: spec.disks ?? [],
    extraArgs: spec.extraArgs ?? [],
  };
  if (spec.kernel !== undefined) cfg.kernel = spec.kernel;
  if (spec.initrd !== undefined) cfg.initrd = spec.initrd;
  if (spec.append !== undefined) cfg.append = spec.append;
  if (spec.serial !== undefined) cfg.serial = spec.serial;
  return cfg;
}

/**
 * Whether a recorded VM had a serial port: its `serial` field, or, in a config stored
 * before that field existed, whether its argument list has a `-serial` beyond those of
 * its extra arguments (the launcher added one for a console).
 */
export function hasSerialPort(cfg: VmConfig): boolean {
  if (cfg.serial !== undefined) return cfg.serial;
  const count = (args: string[]) => args.filter((a) => a === '-serial').length;
  return count(cfg.args ?? []) > count(cfg.extraArgs);
}

/** Where a serial port's output goes when QEMU starts. */
export interface SerialOutput {
  /** Write it to this file. */
  consolePath?: string;
  /** Make it QEMU's stdout (a stdio chardev; with `consolePath`, also logged to that file). */
  consoleStream?: boolean;
}

/**
 * The QEMU arguments of the serial port: none without one, else COM1 to the console
 * stream and/or file, or to nothing (`-serial null`: the port exists, its output is dropped).
 */
export function serialArgs(serial: boolean, out: SerialOutput): string[] {
  if (!serial) return [];
  if (out.consoleStream) return ['-chardev', `stdio,id=ttjcon,signal=off${out.consolePath ? `,logfile=${escapeOpt(out.consolePath)}` : ''}`, '-serial', 'chardev:ttjcon'];
  return ['-serial', out.consolePath ? `file:${out.consolePath}` : 'null'];
}

/** The id of the audio backend ttj adds for a recording with sound (wire other sound devices to it: `audiodev=ttjsnd`). */
const AUDIODEV_ID = 'ttjsnd';
/** The PCM QEMU writes for ttj: 44.1 kHz, mono, signed 16-bit. */
const AUDIO_OUT = 'out.frequency=44100,out.channels=1,out.format=s16';

/**
 * The QEMU arguments that write what the guest plays to the WAV file `path`: a `wav`
 * audio backend with id {@link AUDIODEV_ID}, and the machine's PC speaker wired to it.
 */
export function audioArgs(path: string): string[] {
  return ['-audiodev', `wav,id=${AUDIODEV_ID},path=${escapeOpt(path)},${AUDIO_OUT}`, '-machine', `pcspk-audiodev=${AUDIODEV_ID}`];
}

/**
 * The QEMU command line for a config (without QMP, serial, `-S`, `-incoming`): guest
 * RAM in the shared file `ramPath`, a standard VGA (screendumps) and no display.
 * @param disks The source of each disk named in `cfg.disks`.
 * @throws Error when a disk has no source (a programming error).
 */
export function qemuArgs(cfg: VmConfig, ramPath: string, disks: Record<string, DiskSource>): string[] {
  const mib = cfg.memorySize / 1048576;
  const args = [
    '-machine',
    `${cfg.machine},accel=${cfg.accel},memory-backend=mem`,
    '-m',
    `${mib}M`,
    '-object',
    `memory-backend-file,id=mem,size=${cfg.memorySize},mem-path=${escapeOpt(ramPath)},share=on`,
    '-nodefaults',
    '-no-user-config',
    '-vga',
    'std',
    '-display',
    'none',
  ];
  if (cfg.kernel) args.push('-kernel', cfg.kernel);
  if (cfg.initrd) args.push('-initrd', cfg.initrd);
  if (cfg.append !== undefined) args.push('-append', cfg.append);
  cfg.disks.forEach((d, i) => {
    const src = disks[d.name];
    if (!src) throw new TtjError(ErrorCodes.INTERNAL, `no source for disk ${d.name}`, { disk: d.name });
    const file = escapeOpt('nbd' in src ? src.nbd : src.file);
    if (d.interface === 'virtio') args.push('-drive', `file=${file},format=raw,if=virtio,index=${i},cache=writeback`);
    else args.push('-drive', `file=${file},format=raw,if=ide,index=${i},media=disk,cache=writeback`);
  });
  if (!cfg.kernel && cfg.disks.length) args.push('-boot', 'c');
  args.push(...cfg.extraArgs);
  return args;
}

/** QEMU option values escape a comma by doubling it. */
function escapeOpt(v: string): string {
  return v.replace(/,/g, ',,');
}
