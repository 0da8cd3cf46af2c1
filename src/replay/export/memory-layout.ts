/** A run of guest RAM: where it is in the guest-physical address space and in the folded RAM file. */
export interface RamRange {
  /** Guest-physical start address. */
  start: number;
  /** Bytes. */
  size: number;
  /** Offset of its bytes in the folded memory (`memory.raw`, QEMU's RAM file). */
  offset: number;
}

const MiB = 1 << 20;
const FOUR_GIB = 2 ** 32;
/** The PC's legacy hole: VGA window and option/BIOS ROMs (0xA0000..0xFFFFF), not RAM to an OS. */
const LEGACY_HOLE = { start: 0xa0000, end: MiB };

/**
 * The guest RAM ranges of `size` bytes of folded memory.
 *
 * Without a machine (a journal appended from plain images) the memory is one flat
 * range at guest-physical 0. For a QEMU PC machine (`pc-i440fx-*`, `pc-q35-*`, `pc`,
 * `q35`) it is QEMU's layout: RAM up to the machine's low-memory limit is mapped at
 * its own offset (less the legacy hole 0xA0000..0xFFFFF, which is how the firmware
 * reports RAM to an OS and what a LiME dump taken inside the guest holds), the rest at
 * 4 GiB. (QEMU's own `dump-guest-memory` may also list 0xC0000..0xFFFFF when the
 * firmware left it RAM-mapped; an ELF export of a recorded VM takes QEMU's ranges.)
 */
export function ramRanges(size: number, machine?: string): RamRange[] {
  const map = ramMap(size, machine);
  if (!isPcMachine(machine)) return map;
  const ranges: RamRange[] = [];
  for (const m of map) {
    if (m.start !== 0) ranges.push(m);
    else {
      const below = m.size;
      if (below > 0) ranges.push({ start: 0, size: Math.min(below, LEGACY_HOLE.start), offset: 0 });
      if (below > LEGACY_HOLE.end) ranges.push({ start: LEGACY_HOLE.end, size: below - LEGACY_HOLE.end, offset: LEGACY_HOLE.end });
    }
  }
  return ranges;
}

/** True for a QEMU PC machine type. */
function isPcMachine(machine: string | undefined): machine is string {
  return !!machine && /^(pc|q35|pc-(i440fx|q35)-.*)$/.test(machine);
}

/**
 * Where the RAM file is mapped in the guest-physical address space, holes included:
 * flat at 0 without a machine; for a PC machine, below the low-memory limit at its own
 * offset and the rest at 4 GiB.
 */
export function ramMap(size: number, machine?: string): RamRange[] {
  if (size <= 0) return [];
  if (!isPcMachine(machine)) return [{ start: 0, size, offset: 0 }];
  const q35 = /q35/.test(machine);
  // hw/i386/pc_piix.c and pc_q35.c: the low-memory limit, by machine and RAM size.
  const lowmem = q35 ? (size >= 0xb0000000 ? 0x80000000 : 0xb0000000) : size >= 0xe0000000 ? 0xc0000000 : 0xe0000000;
  const below = Math.min(size, lowmem);
  return below < size
    ? [
        { start: 0, size: below, offset: 0 },
        { start: FOUR_GIB, size: size - below, offset: below },
      ]
    : [{ start: 0, size: below, offset: 0 }];
}

/** The offset in the RAM file of guest-physical `[start, start + size)`, when that lies wholly in RAM (not in a hole, VRAM or ROM). */
export function ramOffset(start: number, size: number, map: RamRange[]): number | undefined {
  const m = map.find((r) => start >= r.start && start + size <= r.start + r.size);
  return m ? m.offset + (start - m.start) : undefined;
}
