/** Small journals built from event streams, for the fuzzer's regression tests. */
import { createHash } from 'node:crypto';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import type { IEvent } from '../../src/journal/codec.js';
import { JournalWriter } from '../../src/journal/writer.js';

export const PAGE = 4096;
export const PAGES = 4;
export const sha = (b: Buffer) => createHash('sha256').update(b).digest();

/** Appends `events` (blob events included) as `ttj append --events` does. */
export async function appendEvents(journal: string, events: IEvent[]): Promise<void> {
  const w = await JournalWriter.openWriter(journal, { command: 'regression test' });
  try {
    await appendEventStream(w, encodeEventStream(events));
  } finally {
    await w.close();
  }
}

/** The content of page `pfn` written by epoch `e`. */
export const pageOf = (e: number) => Buffer.alloc(PAGE, e + 1);

/**
 * The events of epoch `e` of a small journal: 4 pages of memory (declared in epoch 0),
 * page e % 4 rewritten with {@link pageOf}(e), optional labels. Every epoch of such a
 * journal is a keyframe (a quarter of its entries change each time).
 */
export function epochEvents(e: number, labels: string[] = []): IEvent[] {
  const data = pageOf(e);
  return [
    { blob: { data } },
    { epochBegin: { epoch: e } },
    ...(e === 0 ? [{ memoryLayout: { size: PAGES * PAGE } }] : []),
    { pages: { pfns: [e % PAGES], addrs: sha(data) } },
    ...labels.map((text) => ({ label: { text } })),
    { epochCommit: { epoch: e } },
  ];
}

/** The memory of epoch `e` of such a journal. */
export function memoryAt(e: number): Buffer {
  const m = Buffer.alloc(PAGES * PAGE);
  for (let k = 0; k <= e; k++) pageOf(k).copy(m, (k % PAGES) * PAGE);
  return m;
}

/** Builds a journal of `epochs` epochs, one append each; `labels[e]` labels epoch e. */
export async function smallJournal(journal: string, epochs: number, labels: Record<number, string[]> = {}): Promise<void> {
  for (let e = 0; e < epochs; e++) await appendEvents(journal, epochEvents(e, labels[e]));
}
