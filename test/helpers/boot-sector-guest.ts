/** What the QEMU tests read of the boot-sector guest (journal-tools/guests): its counter in the RAM file, and how far it can get in a given time. */
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync } from 'node:fs';
import type { RecordOptions } from '../../src/capture/record.js';
import { COUNTER_ADDR, COUNTER_MAGIC, MAGIC_ADDR } from '../../journal-tools/guests/index.js';

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

/** The guest's counter in a RAM file (0 before the guest has started, or for no file). */
export function guestCounter(ram: string): number {
  return ram && readU32(ram, MAGIC_ADDR) === COUNTER_MAGIC ? readU32(ram, COUNTER_ADDR) : 0;
}

/**
 * `record()` options that stop the recording of a boot-sector guest once `epochs` epochs are
 * committed and its counter has reached `counter` (the caller's duration caps the wait);
 * `ram()` is the guest's RAM file once it has started.
 */
export function untilCounted(epochs: number, counter: number): Required<Pick<RecordOptions, 'signal' | 'onStart' | 'onEpoch'>> & { ram(): string } {
  const enough = new AbortController();
  let ram = '';
  return {
    signal: enough.signal,
    onStart: (vm) => (ram = vm.ramPath),
    onEpoch: (e) => {
      if (e.epoch >= epochs && guestCounter(ram) >= counter) enough.abort();
    },
    ram: () => ram,
  };
}
