import { ErrorCodes, TtjError } from '../errors.js';
import { isJournalDir } from '../store/journal-dir.js';
import { JournalWriter } from './writer.js';

export interface InitResult {
  journal: string;
  pageSize: number;
  journalId: string;
}

/**
 * Creates an empty journal (its header event only).
 * @throws TtjError JOURNAL_EXISTS, NOT_A_JOURNAL (a non-empty directory), BAD_ARGUMENT (page size).
 */
export async function initJournal(dir: string, opts: { pageSize?: number } = {}): Promise<InitResult> {
  if (await isJournalDir(dir)) throw new TtjError(ErrorCodes.JOURNAL_EXISTS, `${dir} is already a journal`, { path: dir });
  const w = await JournalWriter.openWriter(dir, { create: true, pageSize: opts.pageSize, command: 'ttj init' });
  try {
    return { journal: dir, pageSize: w.pageSize, journalId: w.header.journalId };
  } finally {
    await w.close();
  }
}
