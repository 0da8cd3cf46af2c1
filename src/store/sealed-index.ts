/**
 * The secondary index of an encrypted journal as its backend keeps it (docs/format.md,
 * "Encryption"): every value sealed (AES-256-GCM), bound to the key it is stored under;
 * and the keys that carry a secret, the label entries `lb/<hex of text>/<epoch>`
 * (src/journal/index-keys.ts), stored as `lb/<HMAC of the hex text>/<epoch>` with the
 * plain key sealed in the value (`u16 length | key | value`), so that no label text is
 * readable in the store. Above it the index looks as in a plain journal: the same keys,
 * values and order (one text's entries are still a range of the stored keys; a range
 * across texts is read whole and ordered by the plain keys: labels are few).
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { JournalCipher } from './cipher.js';
import type { IndexEntry, IndexRange, JournalStore } from './store.js';

/** Keys under this prefix whose second segment ends in '/' carry a secret (that segment). */
const SECRET = 'lb/';
/** The first key after every key under {@link SECRET}. */
const SECRET_END = 'lb0';

/** What a sealed value is bound to. */
const place = (storedKey: string) => `index ${storedKey}`;
const end = (prefix: string) => prefix.slice(0, -1) + '0';
const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** `lb/<segment>/` of a key that carries a secret, or undefined. */
function secretPrefix(key: string): string | undefined {
  if (!key.startsWith(SECRET)) return undefined;
  const slash = key.indexOf('/', SECRET.length);
  return slash < 0 ? undefined : key.slice(0, slash + 1);
}

/** A range's bounds: the lower one inclusive, the upper one inclusive (`lte`) or not (`lt`). */
interface Bounds {
  gte?: string;
  lt?: string;
  lte?: string;
}

/** `r` narrowed to `[lo, hi)` (undefined: unbounded), or undefined when nothing is left. */
function clip(r: Bounds, lo: string | undefined, hi: string | undefined): Bounds | undefined {
  const gte = lo !== undefined && (r.gte === undefined || cmp(r.gte, lo) < 0) ? lo : r.gte;
  let { lt, lte } = r;
  if (hi !== undefined && (lt !== undefined ? cmp(lt, hi) > 0 : lte !== undefined ? cmp(lte, hi) >= 0 : true)) {
    lt = hi;
    lte = undefined;
  }
  if (gte !== undefined && ((lt !== undefined && cmp(gte, lt) >= 0) || (lte !== undefined && cmp(gte, lte) > 0))) return undefined;
  return { gte, lt, lte };
}

const inBounds = (k: string, b: Bounds) => (b.gte === undefined || cmp(k, b.gte) >= 0) && (b.lt === undefined || cmp(k, b.lt) < 0) && (b.lte === undefined || cmp(k, b.lte) <= 0);

/** The index of an encrypted journal's backend `inner`, seen through `cipher` (see the module comment). */
export class SealedIndex {
  constructor(
    private readonly cipher: JournalCipher,
    private readonly inner: JournalStore,
  ) {}

  private storedPrefix(prefix: string): string {
    return SECRET + this.cipher.indexKeyMac(prefix.slice(SECRET.length, -1)) + '/';
  }

  /** The key `key` is stored under. */
  private storedKey(key: string): string {
    const p = secretPrefix(key);
    return p ? this.storedPrefix(p) + key.slice(p.length) : key;
  }

  /** `entries` as the backend stores them. */
  seal(entries: IndexEntry[]): IndexEntry[] {
    return entries.map((e) => {
      const key = this.storedKey(e.key);
      if (key === e.key) return { key, value: this.cipher.sealOne(e.value, place(key)) };
      const plainKey = Buffer.from(e.key, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(plainKey.length);
      return { key, value: Buffer.concat(this.cipher.seal([len, plainKey, e.value], place(key))) };
    });
  }

  /**
   * The plain key and value of the entry stored under `stored`.
   * @throws TtjError CORRUPT_STORE when it does not open, or does not hold a key stored under `stored`.
   */
  private open(stored: string, sealed: Buffer): [string, Buffer] {
    const plain = this.cipher.open(sealed, place(stored), { key: stored }, ErrorCodes.CORRUPT_STORE);
    if (!secretPrefix(stored)) return [stored, plain];
    const n = plain.length >= 2 ? plain.readUInt16BE(0) : plain.length;
    const key = 2 + n <= plain.length ? plain.toString('utf8', 2, 2 + n) : undefined;
    if (key === undefined || this.storedKey(key) !== stored) throw new TtjError(ErrorCodes.CORRUPT_STORE, `index ${stored} does not hold its own key`, { key: stored });
    return [key, plain.subarray(2 + n)];
  }

  /** @throws TtjError CORRUPT_STORE when the entry does not open or is of another key. */
  async get(key: string): Promise<Buffer | undefined> {
    const stored = this.storedKey(key);
    const v = await this.inner.indexGet(stored);
    if (!v) return undefined;
    const [k, value] = this.open(stored, v);
    if (k !== key) throw new TtjError(ErrorCodes.CORRUPT_STORE, `index ${stored} does not hold its own key`, { key: stored });
    return value;
  }

  /** The entries of `range`, by their plain keys, in the order a plain index gives them. */
  async *range(range: IndexRange): AsyncIterable<[string, Buffer]> {
    let left = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    const parts: [string | undefined, string | undefined, boolean][] = [
      [undefined, SECRET, false],
      [SECRET, SECRET_END, true],
      [SECRET_END, undefined, false],
    ];
    if (range.reverse) parts.reverse();
    for (const [lo, hi, secret] of parts) {
      const b = left > 0 ? clip(range, lo, hi) : undefined;
      if (!b) continue;
      const entries = secret ? this.secretRange(b, !!range.reverse, left) : this.plainRange(b, !!range.reverse, left);
      for await (const e of entries) {
        yield e;
        if (--left <= 0) return;
      }
    }
  }

  private async *plainRange(b: Bounds, reverse: boolean, limit: number): AsyncIterable<[string, Buffer]> {
    for await (const [k, v] of this.inner.indexRange({ ...b, reverse, limit: Number.isFinite(limit) ? limit : undefined })) yield this.open(k, v);
  }

  /** Entries under {@link SECRET}: one text's read as a range of its stored keys, any other range read whole and sorted. */
  private async *secretRange(b: Bounds, reverse: boolean, limit: number): AsyncIterable<[string, Buffer]> {
    const p = b.gte !== undefined ? secretPrefix(b.gte) : undefined;
    const within = (k: string | undefined) => k !== undefined && k.startsWith(p!);
    if (p && (within(b.lte) || within(b.lt) || b.lt === end(p))) {
      const sp = this.storedPrefix(p);
      const to = (k: string | undefined) => (k === undefined ? undefined : k === end(p) ? end(sp) : sp + k.slice(p.length));
      yield* this.plainRange({ gte: to(b.gte), lt: to(b.lt), lte: to(b.lte) }, reverse, limit);
      return;
    }
    const all: [string, Buffer][] = [];
    for await (const [k, v] of this.inner.indexRange({ gte: SECRET, lt: SECRET_END })) {
      const e = this.open(k, v);
      if (inBounds(e[0], b)) all.push(e);
    }
    all.sort((x, y) => (reverse ? cmp(y[0], x[0]) : cmp(x[0], y[0])));
    yield* all.slice(0, limit);
  }
}
