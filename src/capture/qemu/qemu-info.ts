import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { ErrorCodes, TtjError } from '../../errors.js';

/** The QEMU ttj would run, and whether KVM is usable. */
export interface QemuInfo {
  binary: string;
  version: string;
  kvm: boolean;
}

/**
 * Finds qemu-system-x86_64 (or $TTJ_QEMU) and its version.
 * @throws TtjError QEMU_MISSING with the apt-get command.
 */
export function qemuInfo(binary = process.env.TTJ_QEMU ?? 'qemu-system-x86_64'): QemuInfo {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const version = /version (\d+\.\d+(?:\.\d+)?)/.exec(r.stdout ?? '')?.[1];
  if (r.error || r.status !== 0 || !version) {
    throw new TtjError(ErrorCodes.QEMU_MISSING, `QEMU (${binary}) is not installed or does not run: install it with apt-get install qemu-system-x86`, { binary });
  }
  const [maj, min] = version.split('.').map(Number);
  if (maj! < 7 || (maj === 7 && min! < 1)) throw new TtjError(ErrorCodes.QEMU_MISSING, `QEMU ${version} is too old: ttj needs 7.1 or newer (screendump to PNG)`, { binary, actual: version });
  return { binary, version, kvm: kvmUsable() };
}

/** True when /dev/kvm can be opened for reading and writing. */
export function kvmUsable(): boolean {
  if (process.env.TTJ_ACCEL === 'tcg') return false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
