/** `ttj prune` on a journal location: as its writer, or through its live writer. */
import { ErrorCodes, isTtjError } from '../errors.js';
import { askWriter } from '../store/ask-writer.js';
import { prune, type PruneOptions, type PruneResult } from './prune.js';
import { JournalWriter } from './writer.js';

/**
 * Prunes the journal at `location`: as its writer, or, while another process holds the
 * writer lock (`ttj record`, `ttj nbd`), by asking that writer to run the prune between
 * its appends (docs/architecture.md, "Retention"; for either store: src/store/ask-writer.ts).
 * When that writer goes away before it answers, the prune is run here (a prune is
 * finished by running it again). `password` unlocks an encrypted journal (a live writer
 * has it unlocked already).
 * @throws TtjError LOCKED (a writer that does not answer), WRITER_GONE (it went away and another writer took the journal), and what {@link prune} throws.
 */
export async function pruneJournal(location: string, opts: PruneOptions & { password?: string }): Promise<PruneResult> {
  for (let attempt = 0; ; attempt++) {
    let w: JournalWriter;
    try {
      w = await JournalWriter.openWriter(location, { create: false, command: 'ttj prune', password: opts.password });
    } catch (e) {
      if (!isTtjError(e, ErrorCodes.LOCKED)) throw e;
      try {
        return (await askWriter(location, 'prune', { policy: opts.policy, forkPoints: opts.forkPoints })) as PruneResult;
      } catch (e2) {
        if (attempt > 0 || !isTtjError(e2, ErrorCodes.WRITER_GONE)) throw e2;
        continue;
      }
    }
    try {
      return await prune(w, opts);
    } finally {
      await w.close();
    }
  }
}
