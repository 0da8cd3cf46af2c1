import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ELF, encodeNotes, writeElfCore, type ElfNote } from './elf-core-writer.js';
import { writeLime } from './lime-writer.js';
import { ramRanges, type RamRange } from './memory-layout.js';
import { qemuCoreNotes } from './qemu-core-notes.js';

/** The memory formats an export writes. */
export const MEMORY_FORMATS = ['elf', 'raw', 'lime'] as const;
/** One of {@link MEMORY_FORMATS}. */
export type MemoryFormat = (typeof MEMORY_FORMATS)[number];

/** What {@link exportMemory} needs. */
export interface MemoryExportInput {
  format: MemoryFormat;
  /** The folded RAM file (moved into place for `raw`). */
  folded: string;
  size: number;
  /** The recorded VM's machine type, when the journal was recorded from QEMU (else the memory is one flat range). */
  machine?: string;
  /** The journal and point (a recorded VM is restored there for its CPU state). */
  journal: string;
  at: string;
  /** The password of an encrypted journal (the CLI reads it from TTJ_PASSWORD or --password-file). */
  password?: string;
  /** Scratch space (QEMU's own dump goes there). */
  workDir: string;
  outDir: string;
  /** A note naming the journal point, put into an ELF beside the CPU state. */
  ttjNote: ElfNote;
}

/** What was written. */
export interface MemoryExport {
  file: string;
  format: MemoryFormat;
  /** Guest-physical RAM ranges in the file (for `raw`: the folded RAM file as it is, offsets = file offsets). */
  ranges: RamRange[];
  /** Where an ELF's CPU state comes from: `qemu` (the VM restored at the point, QEMU's notes), `none` (a journal of plain images has no CPU state). */
  cpuState?: 'qemu' | 'none';
  /** e_machine of an ELF. */
  elfMachine?: number;
}

/** Note type of ttj's own note (owner "TTJ"): the point's JSON. Not a small number: tools read small types of any owner as core notes (1 = NT_PRSTATUS). */
export const NT_TTJ_POINT = 0x54544a31;

/**
 * Writes the folded memory as `memory.FORMAT` in `outDir`: `raw` as folded, `lime` one
 * LiME range per RAM range, `elf` an ELF64 core (see {@link writeElfCore}) whose CPU
 * notes are QEMU's for a recorded VM and absent for plain images.
 */
export async function exportMemory(input: MemoryExportInput): Promise<MemoryExport> {
  const file = `memory.${input.format}`;
  const out = join(input.outDir, file);
  if (input.format === 'raw') {
    await rename(input.folded, out);
    return { file, format: 'raw', ranges: [{ start: 0, size: input.size, offset: 0 }] };
  }
  if (input.format === 'lime') {
    const ranges = ramRanges(input.size, input.machine);
    await writeLime(input.folded, ranges, out);
    return { file, format: 'lime', ranges };
  }
  if (input.machine) {
    const q = await qemuCoreNotes(input.journal, input.at, input.folded, input.size, input.machine, input.workDir, input.password);
    await writeElfCore({ memory: input.folded, ranges: q.ranges, notes: Buffer.concat([q.notes, encodeNotes([input.ttjNote])]), machine: q.machine, out });
    return { file, format: 'elf', ranges: q.ranges, cpuState: 'qemu', elfMachine: q.machine };
  }
  const ranges = ramRanges(input.size);
  await writeElfCore({ memory: input.folded, ranges, notes: encodeNotes([input.ttjNote]), machine: ELF.EM_X86_64, out });
  return { file, format: 'elf', ranges, cpuState: 'none', elfMachine: ELF.EM_X86_64 };
}
