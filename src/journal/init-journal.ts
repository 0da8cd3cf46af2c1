import { ErrorCodes, TtjError } from '../errors.js';
import { journalExists } from '../store/open-store.js';
import { JournalWriter } from './writer.js';
import type { EncryptionOptions } from '../store/journal-key.js';

/** What {@link initJournal} made: the journal's location, page size and id. */
export interface InitResult {
  journal: string;
  pageSize: number;
  journalId: string;
  /** True for an encrypted journal (`encrypt`). */
  encrypted: boolean;
}

/**
 * Creates an empty journal (its header event only).
 * @throws TtjError JOURNAL_EXISTS, NOT_A_JOURNAL (a non-empty directory), BAD_ARGUMENT (page size).
 */
export async function initJournal(dir: string, opts: { pageSize?: number } & EncryptionOptions = {}): Promise<InitResult> {
  if (await journalExists(dir)) throw new TtjError(ErrorCodes.JOURNAL_EXISTS, `${dir} is already a journal`, { path: dir });
  const w = await JournalWriter.openWriter(dir, { create: true, pageSize: opts.pageSize, command: 'ttj init', password: opts.password, encrypt: opts.encrypt });
  try {
    return { journal: dir, pageSize: w.pageSize, journalId: w.header.journalId, encrypted: !!opts.encrypt };
  } finally {
    await w.close();
  }
}
