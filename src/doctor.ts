import { spawnSync } from 'node:child_process';
import { isTtjError } from './errors.js';
import { TTJ_VERSION } from './journal/journal.js';
import { nativeInfo } from './native/index.js';
import { cpuVirtualization, defaultAccel, kvmUsable, QEMU_INSTALL_HINT, qemuBinary, qemuInfo } from './capture/qemu/qemu-info.js';

/** `ttj doctor --json`. */
export interface DoctorReport {
  ttj: string;
  node: string;
  platform: string;
  /** The QEMU `record` and `restore` would run (`qemuInfo`), or how to install one. */
  qemu: { found: boolean; path?: string; version?: string; defaultMachine?: string; install?: string; reason?: string };
  /** Whether /dev/kvm is usable, whether the CPU advertises virtualization, and the accelerator `record` would pick. */
  kvm: { usable: boolean; cpuVirtualization: boolean; accel: 'kvm' | 'tcg'; reason?: string };
  nbdClients: Record<string, boolean>;
  native: { loaded: boolean; [k: string]: unknown };
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The QEMU part of the report, from the same probe `record` and `restore` use. */
function qemuReport(): DoctorReport['qemu'] {
  try {
    const info = qemuInfo();
    return { found: true, path: which(info.binary) ?? info.binary, version: info.version, defaultMachine: info.defaultMachine };
  } catch (e) {
    if (!isTtjError(e)) throw e;
    return { found: false, install: QEMU_INSTALL_HINT, reason: e.message, path: which(qemuBinary()) };
  }
}

/** What ttj can use on this machine. */
export async function doctor(): Promise<DoctorReport> {
  const usable = kvmUsable();
  return {
    ttj: TTJ_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    qemu: qemuReport(),
    kvm: { usable, cpuVirtualization: cpuVirtualization(), accel: defaultAccel(), reason: usable ? undefined : '/dev/kvm does not open for reading and writing (or TTJ_ACCEL=tcg)' },
    nbdClients: Object.fromEntries(['qemu-img', 'qemu-io', 'nbdinfo', 'nbdcopy'].map((c) => [c, !!which(c)])),
    native: nativeInfo(),
  };
}
