/** `ttj prune` on a journal location: as its writer, or through its live writer. */
import { prune, type PruneOptions, type PruneResult } from './prune.js';
import { inWriterTurn } from './writer-turn.js';

/**
 * Prunes the journal at `location`: as its writer, or, while another process holds the
 * writer lock (`ttj record`, `ttj nbd`), by asking that writer to run the prune between
 * its appends (docs/architecture.md, "Retention"; for either store: src/store/ask-writer.ts).
 * When that writer goes away before it answers, the prune is run here (a prune is
 * finished by running it again). `password` unlocks an encrypted journal (a live writer
 * has it unlocked already).
 * @throws TtjError LOCKED (a writer that does not answer), WRITER_GONE (it went away and another writer took the journal), and what {@link prune} throws.
 */
export function pruneJournal(location: string, opts: PruneOptions & { password?: string }): Promise<PruneResult> {
  const request = { name: 'prune', args: { policy: opts.policy, forkPoints: opts.forkPoints } };
  return inWriterTurn(location, { command: 'ttj prune', password: opts.password }, request, (w) => prune(w, opts));
}
