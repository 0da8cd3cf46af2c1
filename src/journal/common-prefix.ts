/**
 * Where two journals' chains agree (push): the last seq whose event is the same on
 * both sides. The hash chain makes one comparison enough for a whole prefix: an event
 * with the same bytes has the same `prev_hash`, so every event before it is the same.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { buf, eventHash } from './codec.js';
import type { Journal } from './journal.js';

/** The hash of event `seq` of `j` as stored (undefined past its head). */
async function hashAt(j: Journal, seq: number): Promise<Buffer | undefined> {
  for await (const batch of j.storedEvents(seq, seq + 1)) for (const e of batch) return eventHash(e.bytes);
  return undefined;
}

/** The fork event of `j` (its event 1), if it is a fork. */
async function forkOf(j: Journal): Promise<{ parentJournalId: string; parentSeq: number } | undefined> {
  const head = await j.storeHead();
  if (!head || head.seq < 1) return undefined;
  const ev = await j.event(1);
  if (ev.body !== 'fork' || !ev.fork) return undefined;
  return { parentJournalId: buf(ev.fork.parentJournalId).toString('hex'), parentSeq: Number(ev.fork.parentSeq) };
}

/**
 * The last seq at which `dest` holds the same event as `src` (every event up to it is the same).
 * @throws TtjError AHEAD when `dest` holds all of `src` and more; FORKED when one is a fork of the
 * other; DIVERGED naming the first seq that differs otherwise (seq 0: another journal).
 */
export async function commonPrefix(src: Journal, dest: Journal): Promise<number> {
  const s = await src.storeHead();
  const d = await dest.storeHead();
  if (!s) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, `${src.location} has no events`, { path: src.location });
  if (!d) return -1;
  if (d.seq <= s.seq) {
    if ((await hashAt(src, d.seq))!.equals(d.hash)) return d.seq;
  } else if ((await hashAt(dest, s.seq))!.equals(s.hash)) {
    throw new TtjError(ErrorCodes.AHEAD, `${dest.location} is ahead of ${src.location}: it holds all of its ${s.seq + 1} events and ${d.seq - s.seq} more`, { seq: s.seq, actual: d.seq });
  }
  await refuseFork(src, dest);
  // The first differing seq: the events at `last` differ, so it lies in [0, last].
  let lo = 0;
  let hi = Math.min(s.seq, d.seq);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((await hashAt(src, mid))!.equals((await hashAt(dest, mid))!)) lo = mid + 1;
    else hi = mid;
  }
  const what = hi === 0 ? 'another journal (its header, event 0, differs)' : `diverged from it at seq ${hi}`;
  throw new TtjError(ErrorCodes.DIVERGED, `${dest.location} is not a copy of ${src.location}: it is ${what}`, { seq: hi });
}

/**
 * Two journals where one is a fork of the other are told apart from unrelated ones.
 * @throws TtjError FORKED naming the parent's seq the fork started from.
 */
async function refuseFork(src: Journal, dest: Journal): Promise<void> {
  const df = await forkOf(dest);
  if (df?.parentJournalId === src.header.journalId) {
    throw new TtjError(ErrorCodes.FORKED, `${dest.location} is a fork of ${src.location} at seq ${df.parentSeq}, not a copy of it`, { seq: df.parentSeq, fork: dest.location, parent: src.location });
  }
  const sf = await forkOf(src);
  if (sf?.parentJournalId === dest.header.journalId) {
    throw new TtjError(ErrorCodes.FORKED, `${src.location} is a fork of ${dest.location} at seq ${sf.parentSeq}, not a copy of it`, { seq: sf.parentSeq, fork: src.location, parent: dest.location });
  }
}
