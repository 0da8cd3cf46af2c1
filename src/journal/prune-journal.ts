/** `ttj prune` on a journal location: as its writer, or through its live writer. */
import { prune, type PruneOptions, type PruneResult } from './prune.js';
import { inWriterTurn } from './writer-turn.js';

/**
 * Prunes the journal at `location`: as its writer, or, while another process holds the
 * writer lock of an embedded journal (`ttj record`, `ttj nbd`), by asking that writer to
 * run the prune between its appends (docs/architecture.md, "Retention"). `password` unlocks an
 * encrypted journal (a live writer has it unlocked already).
 * @throws TtjError LOCKED (a PostgreSQL journal with a live writer, or a writer that does not answer), and what {@link prune} throws.
 */
export function pruneJournal(location: string, opts: PruneOptions & { password?: string }): Promise<PruneResult> {
  const request = { name: 'prune', args: { policy: opts.policy, forkPoints: opts.forkPoints } };
  return inWriterTurn(location, { command: 'ttj prune', password: opts.password }, request, (w) => prune(w, opts));
}
