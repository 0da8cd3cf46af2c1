import { Level } from 'level';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import type { KvOp, KvRange, KvWriter } from './kv.js';

/** The LevelDB index of a journal, through the `level` package. */
export class LevelKv implements KvWriter {
  private constructor(private readonly db: Level<string, Buffer>, readonly path: string) {}

  /**
   * Opens (or creates, with `create`) the LevelDB at `path`.
   * @throws TtjError LOCKED when another process has it open.
   */
  static async open(path: string, opts: { create?: boolean } = {}): Promise<LevelKv> {
    const db = new Level<string, Buffer>(path, {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
      createIfMissing: opts.create ?? false,
      errorIfExists: false,
    });
    try {
      await db.open({ passive: false });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new TtjError(ErrorCodes.LOCKED, `the journal index ${path} is open in another process`, { path }, { cause: e });
      }
      throw toTtjError(e, { path, what: 'opening the journal index' });
    }
    return new LevelKv(db, path);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return (await this.db.get(key)) ?? undefined;
    } catch (e) {
      throw toTtjError(e, { path: this.path });
    }
  }

  async getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    try {
      return (await this.db.getMany(keys)).map((v) => v ?? undefined);
    } catch (e) {
      throw toTtjError(e, { path: this.path });
    }
  }

  async *range(range: KvRange): AsyncIterable<[string, Buffer]> {
    // abstract-level treats a present-but-undefined bound as a bound: drop them.
    const opts = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined));
    const it = this.db.iterator({ ...opts, limit: range.limit ?? -1 });
    try {
      for (;;) {
        let entries: [string, Buffer][];
        try {
          entries = await it.nextv(1024);
        } catch (e) {
          throw toTtjError(e, { path: this.path });
        }
        if (entries.length === 0) return;
        yield* entries;
      }
    } finally {
      await it.close();
    }
  }

  /**
   * One atomic LevelDB write. Through a chained batch: for the thousands of small puts
   * of a group commit (a location per disk block) it costs about a third of the
   * array form's CPU, which copies and validates every operation object first.
   */
  async batch(ops: KvOp[], opts: { sync?: boolean } = {}): Promise<void> {
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      await batch.write({ sync: opts.sync ?? true });
    } catch (e) {
      await batch.close().catch(() => undefined);
      throw toTtjError(e, { path: this.path });
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
