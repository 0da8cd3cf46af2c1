/**
 * The test and demo guests, built from Debian packages by the scripts in
 * journal-tools/guests/ (outputs in journal-tools/guests/out/, git-ignored). Each
 * `ensure*` runs its build script, which does nothing when the outputs are current.
 * See docs/qemu.md for the guests' layouts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ErrorCodes, TtjError } from '../../src/errors.js';

/** Physical address of the boot-sector guest's u32 counter. */
export const COUNTER_ADDR = 0x10000;
/** Physical address of the magic u32 "TTJC" (0x434a5454) next to the counter. */
export const MAGIC_ADDR = 0x10004;
/** The magic value at {@link MAGIC_ADDR} once the guest runs. */
export const COUNTER_MAGIC = 0x434a5454;
/** The 1 MiB region the boot-sector guest dirties: at step c, pages (4c + k) mod 256 (k = 0..3) hold c at offsets 0 and 4092. */
export const REGION_ADDR = 0x100000;
/** Pages in the region at {@link REGION_ADDR}. */
export const REGION_PAGES = 256;
/** Pages the boot-sector guest dirties per step. */
export const PAGES_PER_STEP = 4;
/** At step c the boot-sector guest writes a sector filled with c at LBA_BASE + (c mod LBA_COUNT) of the IDE primary master. */
export const LBA_BASE = 64;
/** See {@link LBA_BASE}. */
export const LBA_COUNT = 64;
/** Milliseconds the boot-sector guest waits between steps (BIOS wait): ~20 steps/s. */
export const STEP_MS = 50;
/** The PIT divisor of the tone the boot-sector guest built with `--tone` plays on the PC speaker. */
export const TONE_DIVISOR = 1356;
/** The PIT's input clock, Hz. */
export const PIT_HZ = 1193182;
/** The frequency of that tone, Hz (879.9: a square wave, so also odd harmonics at 3x, 5x, ...). */
export const TONE_HZ = PIT_HZ / TONE_DIVISOR;
/** A kernel command line for the Linux guest: console on ttyS0. */
export const LINUX_APPEND = 'console=ttyS0 quiet';

/** The page of the region the boot-sector guest writes `k`-th (0..3) at step `c`. */
export function regionPage(c: number, k = 0): number {
  return (PAGES_PER_STEP * c + k) % REGION_PAGES;
}

/** journal-tools/guests, found upwards from this module (journal-tools/guests/ or dist/journal-tools/guests/). */
export function guestsDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const g = join(d, 'journal-tools', 'guests');
    if (existsSync(join(g, 'build-boot-sector.sh'))) return g;
    d = dirname(d);
  }
  throw new TtjError(ErrorCodes.FILE_NOT_FOUND, 'journal-tools/guests is not here (the guests are built from a source checkout of ttj)');
}

const execFileP = promisify(execFile);
let bootSector: Promise<string> | undefined;
let toneGuest: Promise<string> | undefined;
let linux: Promise<{ kernel: string; initrd: string }> | undefined;

async function run(script: string, args: string[] = []): Promise<string> {
  try {
    const { stdout } = await execFileP('bash', [join(guestsDir(), script), ...args], { maxBuffer: 1 << 20 });
    return stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new TtjError(ErrorCodes.INTERNAL, `building a guest failed (${script}): ${err.stderr?.trim() || err.message}`, { script }, { cause: e });
  }
}

function runSync(script: string): string {
  try {
    return execFileSync('bash', [join(guestsDir(), script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new TtjError(ErrorCodes.INTERNAL, `building a guest failed (${script}): ${err.stderr?.trim() || err.message}`, { script }, { cause: e });
  }
}

/**
 * The boot-sector guest as a 1 MiB raw disk image (nasm). The guest writes to its
 * own disk: boot a copy. Built once per process (and only when boot-sector.asm changed).
 */
export function ensureBootSectorGuest(): Promise<string> {
  bootSector ??= run('build-boot-sector.sh').catch((e) => {
    bootSector = undefined;
    throw e;
  });
  return bootSector;
}

/**
 * The boot-sector guest built with `--tone` (out/boot-tone.img): the same guest, which
 * also plays a steady {@link TONE_HZ} Hz square wave on the PC speaker from its start.
 */
export function ensureToneGuest(): Promise<string> {
  toneGuest ??= run('build-boot-sector.sh', ['--tone']).catch((e) => {
    toneGuest = undefined;
    throw e;
  });
  return toneGuest;
}

/** {@link ensureBootSectorGuest}, synchronously. */
export function ensureBootSectorGuestSync(): string {
  return runSync('build-boot-sector.sh');
}

/**
 * The Linux guest: Debian's cloud kernel and a busybox initramfs with a workload
 * (boot it with `append` {@link LINUX_APPEND}). The first build downloads the kernel package.
 */
export function ensureLinuxGuest(): Promise<{ kernel: string; initrd: string }> {
  linux ??= run('build-linux.sh')
    .then(parseLinux)
    .catch((e) => {
      linux = undefined;
      throw e;
    });
  return linux;
}

/** {@link ensureLinuxGuest}, synchronously. */
export function ensureLinuxGuestSync(): { kernel: string; initrd: string } {
  return parseLinux(runSync('build-linux.sh'));
}

function parseLinux(out: string): { kernel: string; initrd: string } {
  const [kernel, initrd] = out.split('\n').pop()!.split(' ');
  if (!kernel || !initrd) throw new TtjError(ErrorCodes.INTERNAL, `build-linux.sh printed ${out}`);
  return { kernel, initrd };
}
