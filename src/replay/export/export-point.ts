import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, TtjError, toTtjError } from '../../errors.js';
import { fold } from '../../journal/fold.js';
import { Journal } from '../../journal/journal.js';
import type { VmConfig } from '../../capture/qemu/vm-config.js';
import { makeDirs } from '../../util/make-dirs.js';
import { chainHashAt } from './chain-hash.js';
import { DISK_FORMATS, exportDisks, type DiskFormat } from './export-disks.js';
import { exportFrames, FRAME_FORMATS, type FrameFormat } from './export-frames.js';
import type { ExportManifest } from './export-manifest.js';
import { exportMemory, MEMORY_FORMATS, NT_TTJ_POINT, type MemoryFormat } from './export-memory.js';
import { fileSha256 } from './file-sha256.js';

/** Options of {@link exportPoint}. */
export interface ExportOptions {
  /** The password of an encrypted journal (the CLI reads it from TTJ_PASSWORD or --password-file). */
  password?: string;
  /** The POINT to export. */
  at: string;
  /** Output directory (created 0700 with its parents). */
  out: string;
  /** Memory format (default `elf`). */
  memoryFormat?: MemoryFormat;
  /** Disk image format (default `qcow2`). */
  diskFormat?: DiskFormat;
  /** Also a video of the frames from `since` to `until` (POINTs; default the first and the last frame). */
  frames?: { format: FrameFormat; since?: string; until?: string };
  /** Progress of the fold that comes first, in bytes written (the conversions after it report none). */
  onProgress?: (done: number, total: number) => void;
}

const MODE_DIR = 0o700;

function checkFormat<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--${flag} is one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`, { flag, actual: value });
  return value as T;
}

/**
 * `ttj export`: the state at a POINT in standard formats, in `out`: `memory.elf|raw|lime`,
 * `disks/NAME.qcow2|raw|vmdk`, optionally `frames.mp4|webm`, and `manifest.json`
 * ({@link ExportManifest}, written last). The point is folded into a scratch directory
 * inside `out` (removed afterwards), then converted.
 * @throws TtjError BAD_ARGUMENT (a format), what {@link fold} throws, TOOL_FAILED (qemu-img, ffmpeg), and for an ELF of a recorded VM what restoring it throws.
 */
export async function exportPoint(journal: string, opts: ExportOptions): Promise<ExportManifest> {
  const memoryFormat = checkFormat('memory-format', opts.memoryFormat ?? 'elf', MEMORY_FORMATS);
  const diskFormat = checkFormat('disk-format', opts.diskFormat ?? 'qcow2', DISK_FORMATS);
  if (opts.frames) checkFormat('frames', opts.frames.format, FRAME_FORMATS);
  if (!opts.out) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the output directory is empty (give --out DIR)', { flag: 'out' });
  const j = await Journal.open(journal, { password: opts.password });
  let work: string | undefined;
  try {
    await makeDirs(join(opts.out, 'disks'), MODE_DIR);
    await rm(join(opts.out, 'manifest.json'), { force: true });
    work = await mkdtemp(join(opts.out, '.export-'));
    const folded = join(work, 'fold');
    const m = await fold(j, { at: opts.at, out: folded, onProgress: opts.onProgress });
    const chainHash = await chainHashAt(j, m.seq);
    const cfg = await j.vmConfigAt(m.seq);
    const machine = cfg ? (JSON.parse(cfg.json) as VmConfig).machine : undefined;
    const manifest: ExportManifest = {
      journal: j.location,
      point: m.point,
      seq: m.seq,
      epoch: m.epoch,
      epochSeq: m.epochSeq,
      frame: m.frame,
      time: m.time,
      label: m.label,
      stateRoot: m.stateRoot,
      chainHash,
      disks: [],
      files: [],
    };
    const written = await exportDisks(
      m.disks.map((d) => ({ name: d.name, path: join(folded, d.file) })),
      diskFormat,
      opts.out,
    );
    manifest.disks = m.disks.map((d, i) => ({ name: d.name, file: written[i]!.file, format: diskFormat, size: d.size, root: d.root }));
    if (m.memory) {
      await rm(join(opts.out, `memory.${memoryFormat}`), { force: true });
      const ttjNote = { name: 'TTJ', type: NT_TTJ_POINT, desc: Buffer.from(JSON.stringify({ journal: j.location, point: m.point, seq: m.seq, epoch: m.epoch, stateRoot: m.stateRoot, chainHash })) };
      const mem = await exportMemory({ format: memoryFormat, folded: join(folded, m.memory.file), size: m.memory.size, machine, journal, at: opts.at, workDir: work, outDir: opts.out, ttjNote, password: opts.password });
      manifest.memory = { ...mem, size: m.memory.size, root: m.memory.root };
    }
    if (opts.frames) manifest.frames = await exportFrames(j, { ...opts.frames, workDir: work, outDir: opts.out });
    const files = [...(manifest.memory ? [manifest.memory.file] : []), ...manifest.disks.map((d) => d.file), ...(manifest.frames ? [manifest.frames.file] : [])];
    for (const file of files) manifest.files.push({ file, ...(await fileSha256(join(opts.out, file))) });
    await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    await rename(join(work, 'manifest.json'), join(opts.out, 'manifest.json'));
    return manifest;
  } catch (e) {
    throw toTtjError(e, { path: opts.out });
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
    await j.close();
  }
}
