import type { Journal } from '../journal/journal.js';
import { log, type LogResult } from '../journal/log.js';

/**
 * `GET /api/timeline`: everything the page draws the scrubber from: the journal's
 * `ttj log --json` (head, epochs with labels, frames, disks, store sizes) and, for a
 * forked journal, where it came from.
 */
export interface Timeline extends LogResult {
  /** The parent of a journal made by `ttj restore --fork` (absent for an original recording). */
  fork?: { parent: string; point: string; parentSeq: number; parentEpoch: number };
}

/** The timeline of journal `j` (see {@link Timeline}). */
export async function timeline(j: Journal): Promise<Timeline> {
  const l = await log(j);
  const fork = await forkOrigin(j);
  return fork ? { ...l, fork } : l;
}

/** The fork event a forked journal starts with (right after its header), if any. */
async function forkOrigin(j: Journal): Promise<Timeline['fork']> {
  for await (const { event } of j.events({ from: 1, to: 2 })) {
    const f = event.fork;
    if (f) return { parent: f.parent ?? '', point: f.point ?? '', parentSeq: Number(f.parentSeq ?? 0), parentEpoch: Number(f.parentEpoch ?? 0) };
  }
  return undefined;
}
