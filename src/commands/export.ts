import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { DISK_FORMATS } from '../replay/export/export-disks.js';
import { FRAME_FORMATS } from '../replay/export/export-frames.js';
import type { ExportManifest } from '../replay/export/export-manifest.js';
import { MEMORY_FORMATS } from '../replay/export/export-memory.js';
import { exportPoint } from '../replay/export/export-point.js';

export default class Export extends TtjCommand<ExportManifest> {
  static override summary = 'Export the state at a POINT in standard formats: an ELF core, LiME or raw memory, qcow2/raw/vmdk disks, an mp4/webm of the frames.';
  static override description =
    'Writes memory.elf|lime|raw, disks/NAME.qcow2|raw|vmdk, with --frames frames.mp4|webm of the frames from --since to --until at their recorded times, and manifest.json: the point, its seq, epoch, state root and chain hash, and the SHA-256 of every file. The ELF core of a VM recorded from QEMU carries its CPU state (QEMU restores the point paused and writes its notes).';
  static override examples = [
    '<%= config.bin %> export vm.ttj --at label:"after compromise" --out evidence/',
    '<%= config.bin %> export vm.ttj --at epoch:12 --out out --memory-format lime --disk-format raw --json',
    '<%= config.bin %> export vm.ttj --at head --out out --frames mp4 --since frame:0 --until frame:200',
  ];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    at: Flags.string({ description: 'POINT to export', default: 'head' }),
    out: Flags.string({ description: 'output directory', required: true }),
    'memory-format': Flags.string({ description: 'memory format', options: [...MEMORY_FORMATS], default: 'elf' }),
    'disk-format': Flags.string({ description: 'disk image format', options: [...DISK_FORMATS], default: 'qcow2' }),
    frames: Flags.string({ description: 'also a video of the frames', options: [...FRAME_FORMATS] }),
    since: Flags.string({ description: 'with --frames: from this POINT', dependsOn: ['frames'] }),
    until: Flags.string({ description: 'with --frames: to this POINT', dependsOn: ['frames'] }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<ExportManifest> {
    const { args, flags } = await this.parse(Export);
    const m = await exportPoint(args.journal, {
      password: await readPassword(flags['password-file']),
      at: flags.at,
      out: flags.out,
      memoryFormat: flags['memory-format'] as (typeof MEMORY_FORMATS)[number],
      diskFormat: flags['disk-format'] as (typeof DISK_FORMATS)[number],
      frames: flags.frames ? { format: flags.frames as (typeof FRAME_FORMATS)[number], since: flags.since, until: flags.until } : undefined,
    });
    this.log(`exported ${m.point} (epoch ${m.epoch}, seq ${m.seq}) into ${flags.out}: ${m.files.map((f) => f.file).join(', ')}`);
    return m;
  }
}
