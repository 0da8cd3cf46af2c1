/**
 * `ttj repair`: rebuilds a journal's secondary index and head from its events, the
 * source of truth. The events must be whole (gapless, hash-chained, every state root
 * holding); damaged events are not repaired, only reported. Blobs are not touched.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { IndexEntry, JournalStore } from '../store/store.js';
import { ZERO_ADDR } from '../util/hash.js';
import { IndexBuilder } from './index-builder.js';
import { EPOCH_PREFIX, jsonValue, parseValue, type EpochEntry } from './index-keys.js';
import { readHeader } from './journal.js';
import { Replayer } from './replayer.js';
import { VmState } from './vm-state.js';

/** Options of {@link repairJournal}. */
export interface RepairOptions {
  /** Only say what would change. Default false. */
  dryRun?: boolean;
  /** The password of an encrypted journal. */
  password?: string;
}

/** What a repair found and did (`ttj repair --json`). */
export interface RepairReport {
  journal: string;
  dryRun: boolean;
  /** The last stored event, which is the head after the repair. */
  head: { seq: number; hash: string };
  /** The head the index named before (-1: none). */
  headBefore: number;
  events: number;
  epochs: number;
  frames: number;
  /** Index entries rebuilt, and how many of them were missing or different before, or there and not called for. */
  entries: number;
  changed: number;
}

/**
 * Rebuilds the index of the journal at `dir` from its events (takes the writer lock).
 * @throws TtjError NOT_A_JOURNAL, LOCKED, CORRUPT_EVENT / STATE_ROOT_MISMATCH (the events themselves are damaged).
 */
export async function repairJournal(dir: string, opts: RepairOptions = {}): Promise<RepairReport> {
  const dryRun = !!opts.dryRun;
  const store = await openStore(dir, { write: !dryRun, repair: true, command: 'ttj repair', password: opts.password });
  try {
    const last = await store.lastStoredEvent();
    if (!last) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${dir} holds no events to rebuild an index from`, { path: dir });
    const header = await readHeader(store);
    const ix = new IndexBuilder(header.pageSize);
    const r = new Replayer(new VmState(header.pageSize), ZERO_ADDR, 0);
    for await (const batch of store.readEventBatches(0, last.seq + 1)) {
      for (const { seq, bytes } of batch) ix.feed(seq, r.feed(seq, bytes));
    }
    const entries = await keepCosts(store, ix.index());
    const changed = await countChanges(store, entries);
    const headBefore = (await store.head())?.seq ?? -1;
    const headChanged = headBefore !== last.seq ? 1 : 0;
    if (!dryRun && changed + headChanged > 0) await store.rebuildIndex(last, entries);
    return {
      journal: dir,
      dryRun,
      head: { seq: last.seq, hash: last.hash.toString('hex') },
      headBefore,
      events: last.seq + 1,
      epochs: ix.epochs.length,
      frames: ix.frames.length,
      entries: entries.length,
      changed: changed + headChanged,
    };
  } finally {
    await store.close();
  }
}

/** Epoch entries keep the costs their old entry recorded, when it names the same commit (events do not record costs). */
async function keepCosts(store: JournalStore, entries: IndexEntry[]): Promise<IndexEntry[]> {
  const out: IndexEntry[] = [];
  for (const e of entries) {
    const old = e.key.startsWith(EPOCH_PREFIX) ? await store.indexGet(e.key) : undefined;
    if (!old) {
      out.push(e);
      continue;
    }
    const fresh = parseValue<EpochEntry>(e.value);
    let was: Partial<EpochEntry> = {};
    try {
      was = parseValue<EpochEntry>(old);
    } catch {
      /* a damaged entry: no costs to keep */
    }
    const same = was.seq === fresh.seq && was.stateRoot === fresh.stateRoot;
    out.push(same ? { key: e.key, value: jsonValue({ ...fresh, newBytes: was.newBytes ?? 0, storedBytes: was.storedBytes ?? 0 }) } : e);
  }
  return out;
}

/** How many entries differ between the index and `entries` (missing, different, or not called for). */
async function countChanges(store: JournalStore, entries: IndexEntry[]): Promise<number> {
  const want = new Map(entries.map((e) => [e.key, e.value]));
  let changed = 0;
  for await (const [k, v] of store.indexRange({})) {
    const w = want.get(k);
    if (!w || !w.equals(v)) changed++;
    want.delete(k);
  }
  return changed + want.size;
}
