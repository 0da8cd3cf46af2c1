import { ErrorCodes, TtjError } from '../errors.js';

/** What `ttj grep` looks for: `--text` (its UTF-8 bytes) or `--hex` (pairs of hex digits). */
export interface GrepPatternInput {
  text?: string;
  hex?: string;
}

/**
 * The pattern's bytes: exactly one of `text` and `hex`, not empty, not only zero bytes
 * (such a pattern would match every zero page, which the journal does not store), and at
 * most `pageSize` bytes (so a match spans at most one page or block boundary).
 * @throws TtjError BAD_ARGUMENT.
 */
export function parseGrepPattern(input: GrepPatternInput, pageSize: number): Buffer {
  const bad = (why: string) => new TtjError(ErrorCodes.BAD_ARGUMENT, why);
  if ((input.text === undefined) === (input.hex === undefined)) throw bad('give the bytes to look for as exactly one of --text S and --hex HH..');
  let p: Buffer;
  if (input.hex !== undefined) {
    const h = input.hex.replace(/^0x/i, '').replace(/[\s:]/g, '');
    if (h.length % 2 || !/^[0-9a-fA-F]*$/.test(h)) throw bad(`--hex ${JSON.stringify(input.hex)} is not whole bytes of hex digits`);
    p = Buffer.from(h, 'hex');
  } else p = Buffer.from(input.text!, 'utf8');
  if (p.length === 0) throw bad('the pattern is empty');
  if (p.every((b) => b === 0)) throw bad('a pattern of only zero bytes matches every zero page; give at least one non-zero byte');
  if (p.length > pageSize) throw bad(`the pattern is ${p.length} bytes; at most the page size (${pageSize}) is searched`);
  return p;
}

/** KMP failure function: `f[q]` is the longest proper prefix of `p[0..q)` that is also its suffix. */
function failure(p: Buffer): Int32Array {
  const f = new Int32Array(p.length + 1);
  let k = 0;
  for (let q = 1; q < p.length; q++) {
    while (k > 0 && p[q] !== p[k]) k = f[k]!;
    if (p[q] === p[k]) k++;
    f[q + 1] = k;
  }
  return f;
}

/**
 * Finds a pattern in one blob, and what of it a blob's edges hold, for matches across
 * a page or block boundary: a match with `k` bytes at the end of one page and
 * `len - k` at the start of the next exists exactly when `k` is in the first page's
 * {@link tail} and `len - k` in the next page's {@link head}, so the two blobs' edges
 * decide it without reading them again.
 */
export class PatternMatcher {
  private readonly fail: Int32Array;
  private readonly reversed: Buffer;
  private readonly failReversed: Int32Array;

  constructor(readonly pattern: Buffer) {
    this.fail = failure(pattern);
    this.reversed = Buffer.from(pattern).reverse();
    this.failReversed = failure(this.reversed);
  }

  get length(): number {
    return this.pattern.length;
  }

  /** Every offset of the pattern in `blob` (overlapping ones too). */
  matches(blob: Buffer): number[] {
    let o = blob.indexOf(this.pattern);
    if (o < 0) return NONE;
    const out: number[] = [];
    for (; o >= 0; o = blob.indexOf(this.pattern, o + 1)) out.push(o);
    return out;
  }

  /** Each `k` in 1..len-1 for which `blob` ends with the pattern's first `k` bytes (longest first). */
  tail(blob: Buffer): number[] {
    const p = this.pattern;
    let q = 0;
    for (let i = Math.max(0, blob.length - (p.length - 1)); i < blob.length; i++) {
      const b = blob[i];
      while (q > 0 && p[q] !== b) q = this.fail[q]!;
      if (p[q] === b) q++;
    }
    return chain(q, this.fail);
  }

  /** Each `m` in 1..len-1 for which `blob` starts with the pattern's last `m` bytes (longest first). */
  head(blob: Buffer): number[] {
    const r = this.reversed;
    let q = 0;
    for (let i = Math.min(blob.length, r.length - 1) - 1; i >= 0; i--) {
      const b = blob[i];
      while (q > 0 && r[q] !== b) q = this.failReversed[q]!;
      if (r[q] === b) q++;
    }
    return chain(q, this.failReversed);
  }
}

/** The empty answer, shared (most blobs hold nothing of the pattern). */
const NONE: number[] = [];

/** `q` and its shorter borders: every prefix length that is also a suffix of the scanned bytes. */
function chain(q: number, f: Int32Array): number[] {
  if (q === 0) return NONE;
  const out: number[] = [];
  for (; q > 0; q = f[q]!) out.push(q);
  return out;
}
