import type { Journal } from '../journal/journal.js';

/** `GET /api/lanes`: bytes written to each disk per epoch (the writes since the previous commit, up to and including this one's). */
export interface DiskLanes {
  /** The last seq read. */
  seq: number;
  disks: string[];
  /** One entry per committed epoch, in order: bytes written per disk name (absent: none). */
  epochs: { epoch: number; bytes: Record<string, number> }[];
}

/**
 * Disk bytes per epoch and per disk, from the disk-write events (the epoch index counts
 * only the blocks changed inside an epoch; a recorded VM's disks are written between
 * epochs, through ttj's NBD server). Kept up to date incrementally: each call reads
 * only the events appended since the last one.
 */
export class DiskLaneTracker {
  private readonly lanes: DiskLanes = { seq: -1, disks: [], epochs: [] };
  private pending: Record<string, number> = {};
  private reading: Promise<unknown> = Promise.resolve();

  constructor(private readonly journal: Journal) {}

  /** The lanes up to the journal's head now (one read at a time, each from where the last ended). */
  update(): Promise<DiskLanes> {
    const next = this.reading.catch(() => undefined).then(() => this.readNew());
    this.reading = next;
    return next;
  }

  private async readNew(): Promise<DiskLanes> {
    const l = this.lanes;
    for await (const { seq, event } of this.journal.events({ from: l.seq + 1 })) {
      const w = event.diskWrite;
      if (w) {
        const name = w.disk ?? '';
        if (!l.disks.includes(name)) l.disks.push(name);
        this.pending[name] = (this.pending[name] ?? 0) + Number(w.length ?? 0);
      } else if (event.epochCommit) {
        l.epochs.push({ epoch: Number(event.epochCommit.epoch ?? 0), bytes: this.pending });
        this.pending = {};
      }
      l.seq = seq;
    }
    return { seq: l.seq, disks: [...l.disks], epochs: [...l.epochs] };
  }
}
