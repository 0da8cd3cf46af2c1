import type { Journal } from '../journal/journal.js';
import { log, type LogResult } from '../journal/log.js';
import { forkOrigin, type ForkOrigin } from './journal-family.js';

/**
 * `GET /api/timeline`: everything the page draws the scrubber from: the journal's
 * `ttj log --json` (head, epochs with labels, frames, disks, store sizes), its journal
 * id and, for a forked journal, where it came from.
 */
export interface Timeline extends LogResult {
  /** The journal id (hex): what `?journal=` names. */
  id: string;
  /** The parent of a journal made by `ttj restore --fork` (absent for an original recording). */
  fork?: ForkOrigin;
}

/** The timeline of journal `j` (see {@link Timeline}). */
export async function timeline(j: Journal): Promise<Timeline> {
  const l = await log(j);
  const fork = await forkOrigin(j);
  return { ...l, id: j.header.journalId, ...(fork ? { fork } : {}) };
}
