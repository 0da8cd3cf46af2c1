import { open } from 'node:fs/promises';
import { ErrorCodes, TtjError } from '../../errors.js';
import { ELF, type ElfNote } from './elf-core-writer.js';

/** A program header of an ELF64 file. */
interface ElfSegment {
  type: number;
  offset: number;
  paddr: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

/** The headers and notes of an ELF64 little-endian core file (not its memory). */
export interface ElfCoreHeaders {
  type: number;
  machine: number;
  phoff: number;
  segments: ElfSegment[];
  /** The PT_NOTE segments' bytes, concatenated. */
  noteBytes: Buffer;
  notes: ElfNote[];
}

/** Decodes a PT_NOTE segment's bytes into notes. */
function decodeNotes(b: Buffer): ElfNote[] {
  const pad4 = (n: number) => (n + 3) & ~3;
  const notes: ElfNote[] = [];
  for (let o = 0; o + 12 <= b.length;) {
    const namesz = b.readUInt32LE(o);
    const descsz = b.readUInt32LE(o + 4);
    const type = b.readUInt32LE(o + 8);
    const name = b
      .subarray(o + 12, o + 12 + namesz)
      .toString('latin1')
      .replace(/\0+$/, '');
    const d = o + 12 + pad4(namesz);
    notes.push({ name, type, desc: b.subarray(d, d + descsz) });
    o = d + pad4(descsz);
  }
  return notes;
}

/**
 * Reads an ELF64 little-endian file's header, program headers and notes.
 * @throws TtjError BAD_ARGUMENT when it is not an ELF64 little-endian file.
 */
export async function readElfCore(path: string): Promise<ElfCoreHeaders> {
  const fh = await open(path, 'r');
  try {
    const read = async (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      const { bytesRead } = await fh.read(b, 0, len, pos);
      return b.subarray(0, bytesRead);
    };
    const h = await read(0, ELF.EHDR_SIZE);
    if (h.length < ELF.EHDR_SIZE || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `${path} is not an ELF64 little-endian file`, { path });
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = await read(phoff, phentsize * phnum);
    const segments: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segments.push({
        type: ph.readUInt32LE(o),
        offset: Number(ph.readBigUInt64LE(o + 8)),
        vaddr: Number(ph.readBigUInt64LE(o + 16)),
        paddr: Number(ph.readBigUInt64LE(o + 24)),
        filesz: Number(ph.readBigUInt64LE(o + 32)),
        memsz: Number(ph.readBigUInt64LE(o + 40)),
      });
    }
    const noteBytes = Buffer.concat(await Promise.all(segments.filter((s) => s.type === ELF.PT_NOTE).map((s) => read(s.offset, s.filesz))));
    return { type: h.readUInt16LE(16), machine: h.readUInt16LE(18), phoff, segments, noteBytes, notes: decodeNotes(noteBytes) };
  } finally {
    await fh.close();
  }
}
