import type { FoldManifest } from '../../journal/fold.js';
import type { DiskFormat } from './export-disks.js';
import type { MemoryExport } from './export-memory.js';
import type { FramesExport } from './export-frames.js';

/**
 * `manifest.json` of an export (and `ttj export --json`): the point exported, how it is
 * tied to the journal (its seq, epoch, state root and the chain hash of the event at
 * that seq), what each file holds and the SHA-256 of every file written.
 */
export interface ExportManifest extends Pick<FoldManifest, 'point' | 'seq' | 'epoch' | 'epochSeq' | 'frame' | 'time' | 'label' | 'stateRoot'> {
  /** The journal's location. */
  journal: string;
  /** Hex SHA-256 of the event at `seq` (the hash chain there; at the head, `ttj log`'s `head.hash`). */
  chainHash: string;
  /** Guest memory: the file, its format, the guest RAM size and the folded memory's Merkle root, and where its bytes are. */
  memory?: MemoryExport & { size: number; root: string };
  /** One image per disk: name, file, format, virtual size and the folded disk's Merkle root. */
  disks: { name: string; file: string; format: DiskFormat; size: number; root: string }[];
  /** The video of the frames in a span, when asked for. */
  frames?: FramesExport;
  /** Every file written (but this manifest), relative to the output directory: size and hex SHA-256. */
  files: { file: string; size: number; sha256: string }[];
}
