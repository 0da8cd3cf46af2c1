/**
 * Direct access to a closed journal's LevelDB index (through `level`, not through
 * ttj): for logical snapshots and for damaging index entries on purpose.
 */
import { join } from 'node:path';
import { Level } from 'level';

/** Runs `f` on the journal's index, opened directly; closes it afterwards. */
export async function withRawIndex<T>(journal: string, f: (db: Level<string, Buffer>) => Promise<T>): Promise<T> {
  const db = new Level<string, Buffer>(join(journal, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer', createIfMissing: false });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

/** Every entry of the index whose key starts with `prefix`, in key order. */
export async function rawEntries(db: Level<string, Buffer>, prefix = ''): Promise<[string, Buffer][]> {
  const out: [string, Buffer][] = [];
  const range = prefix ? { gte: prefix, lt: prefix + '\xff' } : {};
  for await (const [k, v] of db.iterator(range)) out.push([k, v]);
  return out;
}
