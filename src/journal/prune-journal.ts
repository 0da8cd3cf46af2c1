/** `ttj prune` on a journal location: as its writer, or through its live writer. */
import { ErrorCodes, isTtjError } from '../errors.js';
import { askWriter } from '../store/ask-writer.js';
import { isUrlLocation } from '../store/open-store.js';
import { prune, type PruneOptions, type PruneResult } from './prune.js';
import { JournalWriter } from './writer.js';

/**
 * Prunes the journal at `location`: as its writer, or, while another process holds the
 * writer lock of an embedded journal (`ttj record`, `ttj nbd`), by asking that writer to
 * run the prune between its appends (docs/architecture.md, "Retention"). `password` unlocks an
 * encrypted journal (a live writer has it unlocked already).
 * @throws TtjError LOCKED (a PostgreSQL journal with a live writer, or a writer that does not answer), and what {@link prune} throws.
 */
export async function pruneJournal(location: string, opts: PruneOptions & { password?: string }): Promise<PruneResult> {
  let w: JournalWriter;
  try {
    w = await JournalWriter.openWriter(location, { create: false, command: 'ttj prune', password: opts.password });
  } catch (e) {
    if (!isTtjError(e) || e.code !== ErrorCodes.LOCKED || isUrlLocation(location)) throw e;
    return (await askWriter(location, 'prune', { policy: opts.policy, forkPoints: opts.forkPoints })) as PruneResult;
  }
  try {
    return await prune(w, opts);
  } finally {
    await w.close();
  }
}
