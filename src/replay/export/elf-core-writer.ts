import { open } from 'node:fs/promises';
import type { RamRange } from './memory-layout.js';
import { copyRange } from './copy-range.js';

/** ELF constants an ELF64 core file uses. */
export const ELF = { ET_CORE: 4, PT_LOAD: 1, PT_NOTE: 4, PF_RWX: 7, EM_386: 3, EM_X86_64: 62, EHDR_SIZE: 64, PHDR_SIZE: 56 } as const;

/** PT_LOAD segments start at multiples of this in the file. */
const ELF_SEGMENT_ALIGN = 4096;

/** One ELF note: owner name, type and descriptor. */
export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

/** Encodes notes as a PT_NOTE segment's bytes (name and descriptor each padded to 4 bytes). */
export function encodeNotes(notes: ElfNote[]): Buffer {
  const pad4 = (n: number) => (n + 3) & ~3;
  const parts = notes.map((n) => {
    const name = Buffer.from(n.name + '\0');
    const b = Buffer.alloc(12 + pad4(name.length) + pad4(n.desc.length));
    b.writeUInt32LE(name.length, 0);
    b.writeUInt32LE(n.desc.length, 4);
    b.writeUInt32LE(n.type, 8);
    name.copy(b, 12);
    n.desc.copy(b, 12 + pad4(name.length));
    return b;
  });
  return Buffer.concat(parts);
}

/** What {@link writeElfCore} writes. */
export interface ElfCoreInput {
  /** The folded RAM file. */
  memory: string;
  /** Guest RAM ranges: one PT_LOAD each (p_paddr = start, p_vaddr 0), bytes from `memory` at their offsets. */
  ranges: RamRange[];
  /** The PT_NOTE segment's bytes (already encoded notes, e.g. QEMU's CPU state, or {@link encodeNotes}). */
  notes: Buffer;
  /** e_machine (EM_X86_64 unless the notes are of another kind, e.g. QEMU's EM_386 notes of a 32-bit guest). */
  machine: number;
  /** The file to create (mode 0600). */
  out: string;
}

/**
 * Writes an ELF64 little-endian ET_CORE file laid out as QEMU's `dump-guest-memory`
 * (paging off) describes memory: the ELF header, the program headers right after it
 * (at 0x40), one PT_NOTE, then one PT_LOAD per RAM range at page-aligned file offsets,
 * p_paddr the guest-physical address and p_vaddr 0. No section headers.
 */
export async function writeElfCore(input: ElfCoreInput): Promise<void> {
  const phnum = 1 + input.ranges.length;
  const notesAt = ELF.EHDR_SIZE + phnum * ELF.PHDR_SIZE;
  const align = (n: number) => Math.ceil(n / ELF_SEGMENT_ALIGN) * ELF_SEGMENT_ALIGN;
  const head = Buffer.alloc(notesAt + input.notes.length);
  // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE.
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(head, 0);
  head.writeUInt16LE(ELF.ET_CORE, 16);
  head.writeUInt16LE(input.machine, 18);
  head.writeUInt32LE(1, 20); // e_version
  head.writeBigUInt64LE(0n, 24); // e_entry
  head.writeBigUInt64LE(BigInt(ELF.EHDR_SIZE), 32); // e_phoff
  head.writeBigUInt64LE(0n, 40); // e_shoff
  head.writeUInt32LE(0, 48); // e_flags
  head.writeUInt16LE(ELF.EHDR_SIZE, 52);
  head.writeUInt16LE(ELF.PHDR_SIZE, 54);
  head.writeUInt16LE(phnum, 56);
  head.writeUInt16LE(0, 58); // e_shentsize
  head.writeUInt16LE(0, 60); // e_shnum
  head.writeUInt16LE(0, 62); // e_shstrndx
  const phdr = (i: number, type: number, offset: number, paddr: number, size: number, flags: number, alignment: number) => {
    const o = ELF.EHDR_SIZE + i * ELF.PHDR_SIZE;
    head.writeUInt32LE(type, o);
    head.writeUInt32LE(flags, o + 4);
    head.writeBigUInt64LE(BigInt(offset), o + 8);
    head.writeBigUInt64LE(0n, o + 16); // p_vaddr
    head.writeBigUInt64LE(BigInt(paddr), o + 24);
    head.writeBigUInt64LE(BigInt(size), o + 32); // p_filesz
    head.writeBigUInt64LE(BigInt(size), o + 40); // p_memsz
    head.writeBigUInt64LE(BigInt(alignment), o + 48);
  };
  phdr(0, ELF.PT_NOTE, notesAt, 0, input.notes.length, 0, 4);
  let at = align(notesAt + input.notes.length);
  const loads = input.ranges.map((r, i) => {
    phdr(1 + i, ELF.PT_LOAD, at, r.start, r.size, ELF.PF_RWX, ELF_SEGMENT_ALIGN);
    const l = { range: r, at };
    at = align(at + r.size);
    return l;
  });
  input.notes.copy(head, notesAt);
  const src = await open(input.memory, 'r');
  try {
    const dst = await open(input.out, 'wx', 0o600);
    try {
      await dst.write(head, 0, head.length, 0);
      for (const l of loads) await copyRange(src, l.range.offset, dst, l.at, l.range.size);
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
