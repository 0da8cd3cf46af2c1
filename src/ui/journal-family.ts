import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Journal } from '../journal/journal.js';
import { isJournalDir } from '../store/journal-dir.js';
import { isPgLocation } from '../store/pg/pg-location.js';

/** Where a forked journal came from: its Fork event (the first event after the header). */
export interface ForkOrigin {
  /** The parent's location as the fork recorded it. */
  parent: string;
  /** The parent's journal id (hex). */
  parentId: string;
  /** The POINT of the parent the fork was made at. */
  point: string;
  parentSeq: number;
  parentEpoch: number;
}

/** One journal of a {@link discoverFamily family}. */
export interface FamilyMember {
  /** Its journal id (hex): how the page and the JSON API (`?journal=`) address it. */
  id: string;
  location: string;
  /** Where it was forked from (absent for an original recording). */
  fork?: ForkOrigin;
}

/** `GET /api/family`: the journals `ttj ui` serves. */
export interface FamilyListing {
  /** The id of the journal the server was started on. */
  started: string;
  members: FamilyMember[];
  /** The id of the journal a fork from the page is recording into now, if any. */
  recording: string | null;
}

/** The Fork event journal `j` starts with, if it is a fork. */
export async function forkOrigin(j: Journal): Promise<ForkOrigin | undefined> {
  for await (const { event } of j.events({ from: 1, to: 2 })) {
    const f = event.fork;
    if (f)
      return {
        parent: f.parent ?? '',
        parentId: Buffer.from(f.parentJournalId ?? []).toString('hex'),
        point: f.point ?? '',
        parentSeq: Number(f.parentSeq ?? 0),
        parentEpoch: Number(f.parentEpoch ?? 0),
      };
  }
  return undefined;
}

/** The member at `location`. @throws TtjError what {@link Journal.open} throws. */
async function readMember(location: string, password: string | undefined): Promise<FamilyMember> {
  const j = await Journal.open(location, { password });
  try {
    const fork = await forkOrigin(j);
    return { id: j.header.journalId, location, ...(fork ? { fork } : {}) };
  } finally {
    await j.close();
  }
}

/** The journal directories in `dir`. */
async function journalsIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.sort()) if (await isJournalDir(join(dir, n))) out.push(join(dir, n));
  return out;
}

/**
 * The family of the journal at `start`: the journals related to it by forks.
 * - Its ancestors: a fork's Fork event names its parent's location and journal id; the
 *   parent is a member when a journal with that id opens there (and so on upwards).
 * - Forks found beside the members: every journal directory in the same directory as a
 *   local member (`ttj ui` makes its forks there, `NAME-fork-N.ttj`) whose Fork event's
 *   parent journal id is a member's, repeated until no more are found (forks of forks,
 *   and the other forks of an ancestor).
 * Journals elsewhere, and forks of a PostgreSQL journal, are found only as ancestors.
 * Journals that do not open (another password, a damaged one) are left out.
 * `known` caches what was read of each location (a journal's id and fork never change; a
 * journal that did not open is tried again next time), so a journal is opened here once.
 * @throws TtjError what {@link Journal.open} throws for `start` itself.
 */
export async function discoverFamily(start: string, password?: string, known = new Map<string, FamilyMember>()): Promise<FamilyMember[]> {
  // A journal that does not open (none there, another password, damaged) is no member.
  const key = (location: string) => (isPgLocation(location) ? location : resolve(location));
  const readOrThrow = async (location: string) => {
    const k = key(location);
    if (!known.has(k)) known.set(k, await readMember(location, password));
    return known.get(k)!;
  };
  const read = (location: string) => readOrThrow(location).catch(() => undefined);
  const first = await readOrThrow(start);
  const members = new Map<string, FamilyMember>([[first.id, first]]);
  for (let m: FamilyMember | undefined = first; m?.fork;) {
    const p = await read(m.fork.parent);
    if (!p || p.id !== m.fork.parentId || members.has(p.id)) break;
    members.set(p.id, p);
    m = p;
  }
  for (let grew = true; grew;) {
    grew = false;
    const dirs = new Set([...members.values()].filter((m) => !isPgLocation(m.location)).map((m) => dirname(resolve(m.location))));
    for (const d of dirs)
      for (const loc of await journalsIn(d)) {
        const c = await read(loc);
        if (c && !members.has(c.id) && c.fork && members.has(c.fork.parentId)) {
          members.set(c.id, c);
          grew = true;
        }
      }
  }
  return [...members.values()];
}

/** A new fork's location beside `source`: `name` (a plain file name) if given, else `BASE-fork-N.ttj` with the first N not taken. */
export async function forkLocation(source: string, name: string | undefined, taken: (location: string) => Promise<boolean>): Promise<string> {
  const dir = dirname(resolve(source));
  if (name !== undefined) return join(dir, name);
  const base = basename(resolve(source)).replace(/\.ttj$/, '');
  for (let n = 1; ; n++) {
    const loc = join(dir, `${base}-fork-${n}.ttj`);
    if (!(await taken(loc))) return loc;
  }
}
