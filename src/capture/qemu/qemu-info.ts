/**
 * What the installed QEMU is: its binary, version, default machine type, and whether
 * KVM can be used. ttj needs qemu-system-x86_64 >= 7.1 (the oldest it is tested with:
 * x-ignore-shared, screendump to PNG for the comparison tests).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { ErrorCodes, TtjError } from '../../errors.js';

/** The QEMU ttj would run, and whether KVM is usable. */
export interface QemuInfo {
  /** The binary (a name looked up in PATH, or a path). */
  binary: string;
  /** `major.minor.micro`, e.g. `7.2.22`. */
  version: string;
  /** True when /dev/kvm opens for reading and writing (and TTJ_ACCEL is not `tcg`). */
  kvm: boolean;
  /** The machine type `pc` resolves to, e.g. `pc-i440fx-7.2` (empty when unknown). */
  defaultMachine: string;
  /** Machine aliases and what they resolve to: `{ pc: 'pc-i440fx-7.2', q35: 'pc-q35-7.2' }`. */
  machineAliases: Record<string, string>;
}

/** The oldest QEMU ttj supports (7.1: `screendump` to PNG, used by the tests to check ttj's own PNG). */
const MIN_QEMU_VERSION = '7.1.0';

/** The hint every QEMU_MISSING error carries. */
export const QEMU_INSTALL_HINT = 'install it with: apt-get install qemu-system-x86';

/** The QEMU binary ttj runs: `binary`, else $TTJ_QEMU, else `qemu-system-x86_64`. */
export function qemuBinary(binary?: string): string {
  return binary ?? process.env.TTJ_QEMU ?? 'qemu-system-x86_64';
}

const cache = new Map<string, QemuInfo>();

/**
 * Finds QEMU and its version (cached per binary).
 * @param binary The QEMU binary; default {@link qemuBinary}.
 * @throws TtjError QEMU_MISSING when it does not run or is older than 7.1; the
 * message names `apt-get install qemu-system-x86`.
 */
export function qemuInfo(binary?: string): QemuInfo {
  const bin = qemuBinary(binary);
  const hit = cache.get(bin);
  if (hit) return { ...hit, kvm: kvmUsable() };
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10000 });
  const version = parseQemuVersion(r.stdout ?? '');
  if (r.error || r.status !== 0 || !version) {
    const why = r.error ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message) : `exit ${r.status}`;
    throw new TtjError(ErrorCodes.QEMU_MISSING, `QEMU (${bin}) is not installed or does not run (${why}): ${QEMU_INSTALL_HINT}`, { binary: bin });
  }
  if (compareVersions(version, MIN_QEMU_VERSION) < 0) {
    throw new TtjError(ErrorCodes.QEMU_MISSING, `QEMU ${version} is too old: ttj needs ${MIN_QEMU_VERSION} or newer; ${QEMU_INSTALL_HINT}`, {
      binary: bin,
      actual: version,
      expected: MIN_QEMU_VERSION,
    });
  }
  const machineAliases = machineAliasesOf(bin);
  const info: QemuInfo = { binary: bin, version, kvm: kvmUsable(), defaultMachine: machineAliases.pc ?? '', machineAliases };
  cache.set(bin, info);
  return info;
}

/** `7.2.22` from `QEMU emulator version 7.2.22 (Debian ...)`; a missing micro is 0. */
function parseQemuVersion(text: string): string | undefined {
  const m = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? `${m[1]}.${m[2]}.${m[3] ?? 0}` : undefined;
}

/** Compares dotted versions numerically: negative, zero or positive. */
function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** The machine aliases (`pc`, `q35`) and their versioned types, from `-machine help`. */
function machineAliasesOf(bin: string): Record<string, string> {
  const r = spawnSync(bin, ['-machine', 'help'], { encoding: 'utf8', timeout: 10000 });
  const out: Record<string, string> = {};
  // "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)"
  for (const m of (r.stdout ?? '').matchAll(/^(\S+)\s+.*\(alias of ([\w.-]+)\)/gm)) out[m[1]!] = m[2]!;
  return out;
}

/** The versioned machine type for `machine` (an alias resolves; anything else is kept). */
export function resolveMachine(info: QemuInfo, machine: string): string {
  return info.machineAliases[machine] ?? machine;
}

/**
 * True when KVM is usable: /dev/kvm opens for reading and writing. TTJ_ACCEL=tcg
 * forces false (to test the TCG path on a KVM host).
 */
export function kvmUsable(): boolean {
  if (process.env.TTJ_ACCEL === 'tcg') return false;
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/**
 * True when the CPU advertises hardware virtualization (`vmx` or `svm` in
 * /proc/cpuinfo). Some sandboxes offer a /dev/kvm that opens but lacks it; there a
 * Linux guest hangs early in boot under KVM while TCG works.
 */
export function cpuVirtualization(): boolean {
  try {
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The accelerator to use: TTJ_ACCEL (`kvm` or `tcg`) when set; else `kvm` when
 * /dev/kvm is usable and the CPU has hardware virtualization; else `tcg`.
 */
export function defaultAccel(): 'kvm' | 'tcg' {
  const env = process.env.TTJ_ACCEL;
  if (env === 'tcg') return 'tcg';
  if (env === 'kvm') return 'kvm';
  return kvmUsable() && cpuVirtualization() ? 'kvm' : 'tcg';
}
