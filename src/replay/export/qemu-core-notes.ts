import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, TtjError } from '../../errors.js';
import { QmpClient } from '../../capture/qemu/qmp-client.js';
import { restore } from '../restore.js';
import { ELF } from './elf-core-writer.js';
import { readElfCore } from './elf-core-reader.js';
import { ramMap, ramOffset, type RamRange } from './memory-layout.js';

/** The CPU state of a recorded VM at a point, as QEMU's own core dump has it. */
export interface QemuCoreNotes {
  /** QEMU's PT_NOTE bytes, verbatim (NT_PRSTATUS and a QEMU CPU-state note per vCPU). */
  notes: Buffer;
  /** QEMU's e_machine (EM_386 for a guest not in long mode, EM_X86_64 otherwise): its notes are of that kind. */
  machine: number;
  /** The guest RAM ranges QEMU dumped (its PT_LOADs that lie in RAM, not VRAM or ROM). */
  ranges: RamRange[];
}

/**
 * Restores the VM at `at` paused (ttj restore --paused --detach), has QEMU write its
 * core dump (QMP `dump-guest-memory`, paging off) into `workDir`, stops it, and keeps
 * the notes and the RAM ranges. Every RAM byte QEMU dumped is compared with the folded
 * `memory`: the CPU state is only taken from a VM that holds exactly the folded RAM.
 * @throws TtjError INCOMPATIBLE_VM (no recorded VM, or QEMU's memory differs from the fold), QEMU_MISSING, QEMU_FAILED, QMP_ERROR.
 */
export async function qemuCoreNotes(journal: string, at: string, memory: string, memorySize: number, machine: string, workDir: string, password?: string): Promise<QemuCoreNotes> {
  const dump = join(workDir, 'qemu-core.elf');
  const res = await restore(journal, { at, paused: true, detach: true, qmpPath: join(workDir, 'qmp.sock'), password });
  try {
    const qmp = await QmpClient.connect(res.qmp);
    try {
      await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${dump}` });
      await qmp.execute('quit').catch(() => undefined);
    } finally {
      qmp.close();
    }
  } finally {
    try {
      if (res.pid) process.kill(res.pid, 'SIGKILL');
    } catch {
      // gone already (it quit)
    }
  }
  const core = await readElfCore(dump);
  const map = ramMap(memorySize, machine);
  const ranges: RamRange[] = [];
  const loads: { range: RamRange; fileOffset: number }[] = [];
  for (const s of core.segments) {
    if (s.type !== ELF.PT_LOAD) continue;
    const offset = ramOffset(s.paddr, s.filesz, map);
    if (offset === undefined) continue;
    const range = { start: s.paddr, size: s.filesz, offset };
    ranges.push(range);
    loads.push({ range, fileOffset: s.offset });
  }
  await compareWithFold(dump, memory, loads, at);
  return { notes: core.noteBytes, machine: core.machine, ranges };
}

/** Every RAM range of QEMU's dump equals the folded memory at its offset. */
async function compareWithFold(dump: string, memory: string, loads: { range: RamRange; fileOffset: number }[], at: string): Promise<void> {
  const CHUNK = 8 << 20;
  const [a, b] = [await open(dump, 'r'), await open(memory, 'r')];
  try {
    const x = Buffer.alloc(CHUNK);
    const y = Buffer.alloc(CHUNK);
    for (const l of loads) {
      for (let done = 0; done < l.range.size; done += CHUNK) {
        const n = Math.min(CHUNK, l.range.size - done);
        const ra = await a.read(x, 0, n, l.fileOffset + done);
        const rb = await b.read(y, 0, n, l.range.offset + done);
        if (ra.bytesRead !== n || rb.bytesRead !== n || !x.subarray(0, n).equals(y.subarray(0, n))) {
          throw new TtjError(ErrorCodes.INCOMPATIBLE_VM, `the VM restored at ${at} does not hold the folded memory at guest-physical 0x${(l.range.start + done).toString(16)}: its CPU state cannot be exported`, {
            point: at,
          });
        }
      }
    }
  } finally {
    await a.close();
    await b.close();
  }
}
