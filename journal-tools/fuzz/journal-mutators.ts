/**
 * Mutators of journals on disk (the journal closed): index entries replaced or
 * deleted through LevelDB directly, a lost or rewound head, damaged events and blob
 * locations, bit flips and truncations of pack files, an unsupported marker version.
 */
import { open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawEntries, withRawIndex } from './raw-index.js';
import type { Rng } from './prng.js';

/** A mutator of journals. `apply` returns what it did, or undefined when it found nothing to damage. */
export interface JournalMutator {
  kind: string;
  /** `verify` must report this damage (it checks the index against the events, the head, every event and blob). */
  mustDetect: boolean;
  /** Opening the journal at all must be refused with a stable code. */
  mustRefuseOpen?: boolean;
  apply(rng: Rng, journal: string): Promise<string | undefined>;
}

/** Replaces one `prefix` entry's value with another one's (or deletes it). */
const indexEntry = (kind: string, prefix: string, how: 'replace' | 'delete'): JournalMutator => ({
  kind,
  mustDetect: true,
  apply: (rng, journal) =>
    withRawIndex(journal, async (db) => {
      const all = await rawEntries(db, prefix);
      if (how === 'delete') {
        if (!all.length) return undefined;
        const [k] = rng.pick(all);
        await db.del(k);
        return `deleted ${k}`;
      }
      if (!all.length) return undefined;
      const [k, v] = rng.pick(all);
      const others = all.filter(([x, y]) => x !== k && !y.equals(v));
      if (others.length) {
        const [k2, v2] = rng.pick(others);
        await db.put(k, v2);
        return `${k} := value of ${k2}`;
      }
      // A single entry: it names the event (and epoch) before its own.
      const j = JSON.parse(v.toString('utf8')) as { seq?: number; epoch?: number };
      if (j.seq) j.seq--;
      if (j.epoch) j.epoch--;
      const k2 = JSON.stringify(j);
      if (k2 === v.toString('utf8')) return undefined;
      await db.put(k, Buffer.from(k2));
      return `${k} := value of ${k2}`;
    }),
});

async function packFiles(journal: string): Promise<string[]> {
  const dir = join(journal, 'packs');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.pack')).sort();
  const out: string[] = [];
  for (const n of names) if ((await stat(join(dir, n))).size > 0) out.push(join(dir, n));
  return out;
}

export const JOURNAL_MUTATORS: JournalMutator[] = [
  // Issue 13 item 2: fold trusts the secondary index; verify misses deleted keyframe entries.
  indexEntry('index-replace-ep', 'i/ep/', 'replace'),
  indexEntry('index-delete-ep', 'i/ep/', 'delete'),
  indexEntry('index-replace-fr', 'i/fr/', 'replace'),
  indexEntry('index-delete-fr', 'i/fr/', 'delete'),
  indexEntry('index-replace-kf', 'i/kf/', 'replace'),
  indexEntry('index-delete-kf', 'i/kf/', 'delete'),
  indexEntry('index-replace-lb', 'i/lb/', 'replace'),
  indexEntry('index-delete-lb', 'i/lb/', 'delete'),
  {
    // Issue 13 item 3: a lost head lets the next append write over events.
    kind: 'head-lost',
    mustDetect: true,
    apply: (rng, journal) =>
      withRawIndex(journal, async (db) => {
        await db.del('h');
        return 'deleted h';
      }),
  },
  {
    // Item 3 again: the head entry names an earlier event (with that event's true hash).
    kind: 'head-rewound',
    mustDetect: true,
    apply: (rng, journal) =>
      withRawIndex(journal, async (db) => {
        const events = await rawEntries(db, 'e/');
        if (events.length < 3) return undefined;
        const i = rng.range(1, events.length - 2);
        const { createHash } = await import('node:crypto');
        const hv = Buffer.alloc(38);
        hv.writeUIntLE(i, 0, 6);
        createHash('sha256').update(events[i]![1]).digest().copy(hv, 6);
        await db.put('h', hv);
        return `h := seq ${i} of ${events.length - 1}`;
      }),
  },
  {
    kind: 'event-bit-flip',
    mustDetect: true,
    apply: (rng, journal) =>
      withRawIndex(journal, async (db) => {
        const events = await rawEntries(db, 'e/');
        const [k, v] = rng.pick(events);
        const b = Buffer.from(v);
        b[rng.int(b.length)]! ^= 1 << rng.int(8);
        await db.put(k, b);
        return `flipped a bit of ${k}`;
      }),
  },
  {
    kind: 'event-delete',
    mustDetect: true,
    apply: (rng, journal) =>
      withRawIndex(journal, async (db) => {
        const [k] = rng.pick(await rawEntries(db, 'e/'));
        await db.del(k);
        return `deleted ${k}`;
      }),
  },
  {
    // Not necessarily detectable: a blob no event names may go unnoticed, and then nothing reads it.
    kind: 'blob-location-swap',
    mustDetect: false,
    apply: (rng, journal) =>
      withRawIndex(journal, async (db) => {
        const all = await rawEntries(db, 'b/');
        if (all.length < 2) return undefined;
        const [k] = rng.pick(all);
        const [k2, v2] = rng.pick(all.filter(([x]) => x !== k));
        await db.put(k, v2);
        return `${k} := location of ${k2}`;
      }),
  },
  {
    kind: 'blob-location-delete',
    mustDetect: false,
    apply: (rng, journal) =>
      withRawIndex(journal, async (db) => {
        const all = await rawEntries(db, 'b/');
        if (!all.length) return undefined;
        const [k] = rng.pick(all);
        await db.del(k);
        return `deleted ${k}`;
      }),
  },
  {
    // Bytes after the last block are never read, so a flip there may go unnoticed.
    kind: 'pack-bit-flip',
    mustDetect: false,
    apply: async (rng, journal) => {
      const packs = await packFiles(journal);
      if (!packs.length) return undefined;
      const p = rng.pick(packs);
      const fh = await open(p, 'r+');
      try {
        const { size } = await fh.stat();
        const at = rng.int(size);
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, at);
        b[0]! ^= 1 << rng.int(8);
        await fh.write(b, 0, 1, at);
        return `flipped a bit at ${at} of ${p}`;
      } finally {
        await fh.close();
      }
    },
  },
  {
    kind: 'pack-truncate',
    mustDetect: true,
    apply: async (rng, journal) => {
      const packs = await packFiles(journal);
      if (!packs.length) return undefined;
      const p = rng.pick(packs);
      const { size } = await stat(p);
      const to = rng.int(size);
      await truncate(p, to);
      return `cut ${p} to ${to} of ${size} bytes`;
    },
  },
  {
    // Issue 13 item 5: an unsupported format version in the marker is accepted.
    kind: 'marker-version',
    mustDetect: true,
    mustRefuseOpen: true,
    apply: async (rng, journal) => {
      const p = join(journal, 'ttj-journal.json');
      const m = JSON.parse(await readFile(p, 'utf8'));
      m.version = rng.pick([99, 3, 0]); // 1 and 2 are readable (2: a journal with patches)
      await writeFile(p, JSON.stringify(m) + '\n');
      return `marker version ${m.version}`;
    },
  },
];
