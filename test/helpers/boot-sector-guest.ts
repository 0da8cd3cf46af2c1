/** What the QEMU tests read of the boot-sector guest (journal-tools/guests): its counter in the RAM file, and how far it can get in a given time. */
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync } from 'node:fs';

/** Reads a u32 (little-endian) at `addr` of a RAM file, with pread (no caching). */
export function readU32(file: string, addr: number): number {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    assert.equal(readSync(fd, b, 0, 4, addr), 4);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/**
 * The most steps the boot-sector guest can take in `ms` of running: one per 50 ms BIOS
 * wait (STEP_MS), with room for the clock's granularity. A busy host makes it take fewer, never more.
 */
export function maxGuestSteps(ms: number): number {
  return Math.ceil(ms / 25) + 5;
}
