import { ErrorCodes, TtjError } from '../errors.js';
import { journalExists, recordedLocation } from '../store/open-store.js';
import type { BlobPut } from '../store/store.js';
import { ZERO_ADDR } from '../util/hash.js';
import { splitAddrs } from './chunks.js';
import type { IEvent } from './codec.js';
import { foldState } from './fold.js';
import { diskWriteEvents, pageEvents } from './change-events.js';
import type { Journal } from './journal.js';
import type { PageTable } from './page-table.js';
import type { SigningKey } from './signing-key.js';
import { JournalWriter } from './writer.js';

/** What {@link forkJournal} made. */
export interface ForkResult {
  writer: JournalWriter;
  parentSeq: number;
  parentEpoch: number;
  copiedBlobs: number;
}

/**
 * Starts a new journal at `dir` that continues `parent` from POINT `at`: a fork
 * event naming the parent and the point, then epoch 0 holding the whole state at
 * that point (its blobs copied from the parent). The parent is never changed.
 * Returns the new journal open for writing.
 * @throws TtjError JOURNAL_EXISTS, BAD_POINT, POINT_NOT_FOUND.
 */
export async function forkJournal(parent: Journal, at: string, dir: string, command = 'ttj fork', signWith?: SigningKey, password?: string): Promise<ForkResult> {
  if (await journalExists(dir)) throw new TtjError(ErrorCodes.JOURNAL_EXISTS, `${dir} is already a journal; a fork needs a new one`, { path: dir });
  const { point, state } = await foldState(parent, at);
  if (point.epoch < 0) throw new TtjError(ErrorCodes.NO_EPOCH, `nothing to fork at ${at}: no epoch is committed there`);
  const stateRoot = (await parent.epoch(point.epoch))!.stateRoot;
  const bodies: IEvent[] = [
    {
      fork: {
        parent: recordedLocation(parent.location),
        parentJournalId: Buffer.from(parent.header.journalId, 'hex'),
        point: at,
        parentSeq: point.seq,
        parentEpoch: point.epoch,
        parentStateRoot: Buffer.from(stateRoot, 'hex'),
      },
    },
  ];
  const cfg = await parent.vmConfigAt(point.seq);
  if (cfg) bodies.push({ vmConfig: { json: cfg.json } });
  bodies.push({ epochBegin: { epoch: 0 } });
  const needed: Buffer[] = [];
  const entries = (t: PageTable) => {
    const idx: number[] = [];
    const addrs: Buffer[] = [];
    for (let i = 0; i < t.count; i++) {
      if (!t.isZero(i)) {
        idx.push(i);
        addrs.push(Buffer.from(t.get(i)));
      }
    }
    needed.push(...addrs);
    return { idx, addrs };
  };
  if (state.memory) {
    bodies.push({ memoryLayout: { size: state.memorySize } });
    const { idx, addrs } = entries(state.memory);
    pageEvents({ pfns: idx, addrs, zeroPfns: [] }, bodies);
  }
  for (const [name, d] of state.disks) {
    bodies.push({ diskCreate: { name, size: d.size, blockSize: d.blockSize } });
    const { idx, addrs } = entries(d.table);
    diskWriteEvents(name, d.size, d.blockSize, { pfns: idx, addrs, zeroPfns: [] }, bodies);
  }
  if (state.device) {
    bodies.push({ device: { length: state.device.length, chunkSize: state.device.chunkSize, chunkAddrs: state.device.chunkAddrs, contentHash: state.device.contentHash } });
    needed.push(...splitAddrs(state.device.chunkAddrs));
  }
  bodies.push({ epochCommit: { epoch: 0 } });

  // Copy the blobs (deduplicated) from the parent.
  const unique = new Map<string, Buffer>();
  for (const a of needed) if (!a.equals(ZERO_ADDR)) unique.set(a.toString('hex'), a);
  const addrs = [...unique.values()];
  const blobs: BlobPut[] = [];
  for (let i = 0; i < addrs.length; i += 8192) {
    const part = addrs.slice(i, i + 8192);
    const data = await parent.blobs(part);
    part.forEach((addr, k) => blobs.push({ addr, data: data[k]! }));
  }
  const writer = await JournalWriter.openWriter(dir, { create: true, pageSize: parent.pageSize, command, signWith, password, encrypt: parent.encrypted });
  try {
    await writer.commit(bodies, blobs);
  } catch (e) {
    await writer.close();
    throw e;
  }
  return { writer, parentSeq: point.seq, parentEpoch: point.epoch, copiedBlobs: blobs.length };
}
