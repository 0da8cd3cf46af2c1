/**
 * The test and demo guests for journal-tools and tests, synchronously. The library
 * form (async, with the guests' layout constants) is ./guests.ts.
 */
import { ensureBootSectorGuestSync, ensureLinuxGuestSync } from './guests.js';

export { COUNTER_ADDR, MAGIC_ADDR, COUNTER_MAGIC, REGION_ADDR, REGION_PAGES, PAGES_PER_STEP, LBA_BASE, LBA_COUNT, STEP_MS, LINUX_APPEND, regionPage } from './guests.js';

/** The boot-sector guest as a 1 MiB raw disk image (path); built when missing or stale. */
export function ensureBootSectorGuest(): string {
  return ensureBootSectorGuestSync();
}

/** The Linux guest (kernel and initrd paths); built when missing or stale. */
export function ensureLinuxGuest(): { kernel: string; initrd: string } {
  return ensureLinuxGuestSync();
}
