/**
 * The logical snapshot of a journal: what must not change when an append is refused.
 * Every LevelDB entry (events, blob locations, index, head, stats), the marker file
 * and the bytes of every pack file; not LevelDB's own files, which change on open.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawEntries, withRawIndex } from './raw-index.js';

export interface Snapshot {
  /** Key → SHA-256 of the value, for LevelDB entries; `file:NAME` → SHA-256 for files. */
  entries: Map<string, string>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function files(dir: string, prefix: string, out: Map<string, string>): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names.sort()) out.set(`file:${prefix}${n}`, sha(await readFile(join(dir, n))));
}

/** Takes the snapshot of a closed journal. */
export async function snapshot(journal: string): Promise<Snapshot> {
  const entries = new Map<string, string>();
  try {
    await withRawIndex(journal, async (db) => {
      for (const [k, v] of await rawEntries(db)) entries.set(k, sha(v));
    });
  } catch {
    entries.set('index', 'unreadable');
  }
  try {
    entries.set('file:ttj-journal.json', sha(await readFile(join(journal, 'ttj-journal.json'))));
  } catch {
    /* absent */
  }
  await files(join(journal, 'packs'), 'packs/', entries);
  return { entries };
}

/** The keys that differ between two snapshots (empty when logically the same). */
export function diffSnapshots(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of a.entries) if (b.entries.get(k) !== v) out.push(b.entries.has(k) ? `changed ${k}` : `removed ${k}`);
  for (const k of b.entries.keys()) if (!a.entries.has(k)) out.push(`added ${k}`);
  return out;
}
