/**
 * The test and demo guests, built from Debian packages by the scripts beside this
 * file (outputs in journal-tools/guests/out/, git-ignored). Each ensure* builds once.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'journal-tools', 'guests');
const out = join(here, 'out');

/** Physical address of the boot-sector guest's 32-bit counter (magic "TTJC" at +4). */
export const COUNTER_ADDR = 0x10000;
/** The boot-sector guest writes the counter to sector LBA_BASE + (counter / 8 mod 16) every 8 steps. */
export const LBA_BASE = 64;

/** The boot-sector guest as a 1 MiB raw disk image (nasm). */
export function ensureBootSectorGuest(): string {
  const img = join(out, 'boot.img');
  if (!existsSync(img)) execFileSync('bash', [join(here, 'build-boot-sector.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return img;
}

/** The Linux guest: Debian's cloud kernel and a busybox initramfs with a workload. */
export function ensureLinuxGuest(): { kernel: string; initrd: string } {
  const kernel = join(out, 'vmlinuz');
  const initrd = join(out, 'initrd.gz');
  if (!existsSync(kernel) || !existsSync(initrd)) execFileSync('bash', [join(here, 'build-linux.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { kernel, initrd };
}
