/**
 * The ordered key-value index under a journal (LevelDB by default). Keys are
 * strings (fixed-width numbers inside keep them ordered), values are bytes.
 * Readers in other processes reach a writer's index through {@link RemoteKv}.
 */
export interface KvRange {
  gte?: string;
  gt?: string;
  lte?: string;
  lt?: string;
  reverse?: boolean;
  limit?: number;
}

/** One write of a batch. */
export type KvOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

/** Read side of the index. */
export interface KvReader {
  get(key: string): Promise<Buffer | undefined>;
  getMany(keys: string[]): Promise<(Buffer | undefined)[]>;
  /** Entries in key order (or reverse), lazily, in batches. */
  range(range: KvRange): AsyncIterable<[string, Buffer]>;
  close(): Promise<void>;
}

/** Write side: atomic, durable batches. */
export interface KvWriter extends KvReader {
  batch(ops: KvOp[], opts?: { sync?: boolean }): Promise<void>;
}
