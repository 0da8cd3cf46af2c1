import { join } from 'node:path';
import { runTool } from './run-tool.js';

/** The disk image formats an export writes (through `qemu-img convert`). */
export const DISK_FORMATS = ['qcow2', 'raw', 'vmdk'] as const;
/** One of {@link DISK_FORMATS}. */
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** A folded disk to convert: its name and its raw image. */
export interface FoldedDisk {
  name: string;
  /** The folded raw image (`disks/NAME.raw` of a fold). */
  path: string;
}

/**
 * Converts each folded raw disk into `outDir/disks/NAME.FORMAT` with `qemu-img convert`
 * (zero runs become holes or unallocated clusters). Returns the files written, relative to `outDir`.
 * @throws TtjError TOOL_FAILED (qemu-img missing or failing).
 */
export async function exportDisks(disks: FoldedDisk[], format: DiskFormat, outDir: string): Promise<{ name: string; file: string }[]> {
  const written: { name: string; file: string }[] = [];
  for (const d of disks) {
    const file = join('disks', `${d.name}.${format}`);
    await runTool('qemu-img', ['convert', '-q', '-f', 'raw', '-O', format, d.path, join(outDir, file)]);
    written.push({ name: d.name, file });
  }
  return written;
}
