/**
 * The one place where an encrypted journal's bytes are sealed and opened (docs/format.md,
 * "Encryption"): AES-256-GCM with a random 96-bit nonce for every sealed piece (a block
 * of blob bytes, an event, an index value), bound by associated data to the journal and
 * to where the piece belongs, and the keyed permutation of blob addresses.
 *
 * A sealed piece is `nonce (12) | ciphertext | tag (16)`.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, type Cipher } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { sha256Ranges } from '../native/index.js';

const NONCE = 12;
const TAG = 16;
/** Bytes a sealed piece has beyond its plaintext. */
const SEAL_OVERHEAD = NONCE + TAG;

/** What a sealed piece is bound to: its kind and its place (the journal id is the cipher's). */
export type SealContext = string;

/** What opening the piece of one place takes, for a worker thread (./block-decode.ts): the data key and the associated data. */
export interface OpenKey {
  key: Buffer;
  ad: Buffer;
}

/**
 * The plaintext of a piece sealed with `k`, in a new buffer; undefined when it does not
 * open (damaged, of another place or another key), and `onFail` is told why.
 */
export function openWith(k: OpenKey, sealed: Buffer, onFail?: (cause: unknown) => void): Buffer | undefined {
  if (sealed.length < SEAL_OVERHEAD) return void onFail?.('shorter than a sealed piece');
  try {
    const d = createDecipheriv('aes-256-gcm', k.key, sealed.subarray(0, NONCE));
    d.setAAD(k.ad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    const a = d.update(sealed.subarray(NONCE, sealed.length - TAG));
    const b = d.final();
    return b.length ? Buffer.concat([a, b]) : a;
  } catch (e) {
    return void onFail?.(e);
  }
}

/**
 * The ciphers of one encrypted journal, made from its master key by HKDF-SHA-256
 * (`data` key for AES-256-GCM, four `addr` round keys for the address permutation, the
 * `index` key of the HMAC that stands for secret parts of index keys).
 * Made by {@link JournalCipher.fromMasterKey} once the key file is unlocked.
 */
export class JournalCipher {
  private readonly rounds: Cipher[];

  private constructor(
    private readonly dataKey: Buffer,
    /** The journal's random id from its key file: every piece's associated data starts with it. */
    readonly keyId: Buffer,
    addrKeys: Buffer[],
    private readonly indexKey: Buffer,
  ) {
    // ECB over independent 16-byte halves: the round function of the address permutation.
    // One cipher object per round, reused for every batch (never finalised).
    this.rounds = addrKeys.map((k) => {
      const c = createCipheriv('aes-256-ecb', k, null);
      c.setAutoPadding(false);
      return c;
    });
  }

  /** The ciphers of the journal whose unwrapped master key is `master` and whose key id is `keyId`. */
  static fromMasterKey(master: Buffer, keyId: Buffer): JournalCipher {
    const sub = (info: string) => Buffer.from(hkdfSync('sha256', master, keyId, `ttj ${info}`, 32));
    return new JournalCipher(
      sub('data'),
      keyId,
      [0, 1, 2, 3].map((r) => sub(`addr ${r}`)),
      sub('index'),
    );
  }

  /**
   * What stands for the secret part `text` of an index key (a label text) in the stored
   * key: HMAC-SHA-256 with the `index` key, as 64 hex digits. Equal texts give equal
   * stands-ins (lookups work); without the key a text cannot be told, nor guessed and checked.
   */
  indexKeyMac(text: string): string {
    return createHmac('sha256', this.indexKey).update(text, 'utf8').digest('hex');
  }

  private ad(context: SealContext): Buffer {
    return Buffer.concat([this.keyId, Buffer.from(context, 'utf8')]);
  }

  /** `parts` (concatenated) sealed for `context`, as the pieces to write one after the other. */
  seal(parts: Buffer[], context: SealContext): Buffer[] {
    const nonce = randomBytes(NONCE);
    const c = createCipheriv('aes-256-gcm', this.dataKey, nonce);
    c.setAAD(this.ad(context));
    const out = [nonce];
    for (const p of parts) out.push(c.update(p));
    out.push(c.final(), c.getAuthTag());
    return out;
  }

  /** {@link seal} as one buffer. */
  sealOne(plain: Buffer | Uint8Array, context: SealContext): Buffer {
    return Buffer.concat(this.seal([Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)], context));
  }

  /**
   * The plaintext of a piece sealed for `context`.
   * @throws TtjError `code` (CORRUPT_BLOB by default) when it is damaged, belongs elsewhere or to another key.
   */
  open(
    sealed: Buffer,
    context: SealContext,
    where: Record<string, unknown> = {},
    code: typeof ErrorCodes.CORRUPT_BLOB | typeof ErrorCodes.CORRUPT_EVENT | typeof ErrorCodes.CORRUPT_STORE = ErrorCodes.CORRUPT_BLOB,
  ): Buffer {
    let cause: unknown;
    const plain = openWith(this.openKey(context), sealed, (e) => (cause = e));
    if (!plain) throw new TtjError(code, `${context} does not decrypt: it is damaged, moved, or of another key`, where, { cause });
    return plain;
  }

  /** What opening a piece sealed for `context` takes elsewhere (a block decoded in a worker thread: ./block-decode.ts). */
  openKey(context: SealContext): OpenKey {
    return { key: this.dataKey, ad: this.ad(context) };
  }

  /**
   * The stored addresses of `addrs` (32-byte SHA-256 content addresses): a keyed
   * permutation (a 4-round Feistel network over the two 16-byte halves with AES-256 as
   * round function, Luby-Rackoff), so that whoever holds the store cannot compute the
   * address of a guessed page, while the journal can turn a stored address back
   * ({@link plainAddrs}) to list its blobs. Equal contents keep equal addresses (dedup).
   */
  storedAddrs(addrs: Buffer[]): Buffer[] {
    return unpack(this.feistel(pack(addrs), [0, 1, 2, 3]));
  }

  /** {@link storedAddrs} of addresses packed one after the other (32 bytes each), packed the same way. */
  storedAddrsPacked(addrs: Buffer): Buffer {
    return this.feistel(addrs, [0, 1, 2, 3]);
  }

  /** The content addresses of stored addresses (the inverse of {@link storedAddrs}). */
  plainAddrs(stored: Buffer[]): Buffer[] {
    return unpack(this.plainAddrsPacked(pack(stored)));
  }

  /** {@link plainAddrs} of addresses packed one after the other (32 bytes each), packed the same way. */
  plainAddrsPacked(stored: Buffer): Buffer {
    return this.feistel(stored, [3, 2, 1, 0]);
  }

  private feistel(addrs: Buffer, order: number[]): Buffer {
    const n = addrs.length / 32;
    if (!n) return Buffer.alloc(0);
    // The addresses as they are (halves interleaved: L0 R0 L1 R1 ...) in a buffer of their
    // own, worked on as 32-bit words: each round is one AES-ECB call over every half (twice
    // the AES work needed, which AES-NI makes negligible, against no splitting and joining)
    // and an XOR of the halves it needs.
    const out = Buffer.from(new ArrayBuffer(32 * n));
    addrs.copy(out);
    const w = new Int32Array(out.buffer, 0, 8 * n);
    const f = new Int32Array(8 * n);
    const fBytes = Buffer.from(f.buffer);
    // Forward: rounds 0..3 alternate R ^= F(L), L ^= F(R); the inverse undoes them in reverse order.
    for (const r of order) {
      this.rounds[r]!.update(out).copy(fBytes);
      const [src, dst] = r % 2 === 0 ? [0, 4] : [4, 0];
      for (let i = 0; i < 8 * n; i += 8) {
        w[i + dst] ^= f[i + src]!;
        w[i + dst + 1] ^= f[i + src + 1]!;
        w[i + dst + 2] ^= f[i + src + 2]!;
        w[i + dst + 3] ^= f[i + src + 3]!;
      }
    }
    return out;
  }
}

/** 32-byte addresses one after the other. */
function pack(addrs: Buffer[]): Buffer {
  for (const a of addrs) if (a.length !== 32) throw new TtjError(ErrorCodes.INTERNAL, `a blob address has ${a.length} bytes, not 32`);
  return Buffer.concat(addrs, 32 * addrs.length);
}

function unpack(packed: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < packed.length; o += 32) out.push(packed.subarray(o, o + 32));
  return out;
}

/**
 * The addresses of the items of a block (at `offsets`, of `lengths`) as the store keeps them:
 * their SHA-256 (hashed natively in one call), made keyed with an encrypted journal's `cipher`.
 * What a store compares with the address a blob was asked by.
 */
export function storedAddressesOf(block: Buffer, offsets: Uint32Array, lengths: Uint32Array, cipher: JournalCipher | undefined): Buffer {
  const hashes = sha256Ranges(block, offsets, lengths);
  return cipher ? cipher.storedAddrsPacked(hashes) : hashes;
}
