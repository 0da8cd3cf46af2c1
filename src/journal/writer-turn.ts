/** Work only a journal's writer may do (a prune, a label), run as its writer or by its live writer. */
import { ErrorCodes, isTtjError } from '../errors.js';
import { askWriter } from '../store/ask-writer.js';
import type { SigningKey } from './signing-key.js';
import { JournalWriter } from './writer.js';

/** A named request a live writer runs for another process ({@link JournalWriter} answers `prune` and `label`). */
interface WriterRequest {
  name: string;
  args: unknown;
}

/** Options of {@link inWriterTurn}. */
export interface WriterTurnOptions {
  /** Names this process in the writer lock (`ttj prune`, `ttj label`). */
  command: string;
  /** Unlocks an encrypted journal (a live writer has it unlocked already). */
  password?: string;
  /** Signs what this process appends as the writer (a live writer signs with its own key, if any). */
  signWith?: SigningKey;
}

/**
 * Runs `work` as the writer of the journal at `location`; while another process holds the
 * writer lock (`ttj record`, `ttj nbd`), sends `request` to that writer instead, which runs
 * the same work between its appends and answers with its result (docs/architecture.md,
 * "Retention"; for either store: src/store/ask-writer.ts). When that writer goes away
 * before it answers, the work is run here (once).
 * @throws TtjError LOCKED (a writer that does not answer), WRITER_GONE (it went away and another writer took the journal), and what the work throws.
 */
export async function inWriterTurn<T>(location: string, opts: WriterTurnOptions, request: WriterRequest, work: (w: JournalWriter) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let w: JournalWriter;
    try {
      w = await JournalWriter.openWriter(location, { create: false, command: opts.command, password: opts.password, signWith: opts.signWith });
    } catch (e) {
      if (!isTtjError(e, ErrorCodes.LOCKED)) throw e;
      try {
        return (await askWriter(location, request.name, request.args)) as T;
      } catch (e2) {
        if (attempt > 0 || !isTtjError(e2, ErrorCodes.WRITER_GONE)) throw e2;
        continue;
      }
    }
    try {
      return await work(w);
    } finally {
      await w.close();
    }
  }
}
