/**
 * The block format shared by every store that keeps blob bytes in blocks (the
 * embedded store's pack files, the PostgreSQL store's block rows): blobs appended
 * together are compressed together.
 *
 * `"TTJB" | u32 raw length | u32 compressed length | u32 item count | zstd frame (with
 * content checksum) of the concatenated items`, or, for items zstd does not shrink,
 * `"TTJR" | u32 raw length | u32 raw length | u32 item count | the items as they are`
 * (a stored block). A block is stored exactly when its two lengths are equal (a zstd
 * block is always written smaller than its items).
 */
import { compress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { ErrorCodes, TtjError } from '../errors.js';

export const BLOCK_MAGIC = 0x424a5454; // "TTJB" little-endian
export const BLOCK_MAGIC_STORED = 0x524a5454; // "TTJR" little-endian
export const BLOCK_HEADER = 16;
/** Items of at least this size are probed: when the first does not compress, the block is stored as it is. */
const PROBE_MIN = 16 * 1024;
/** A probe that compresses to more than this fraction of its size means "store". */
const PROBE_RATIO = 0.97;

/** One encoded block: its header, its body (the compressed frame, or the items as they are) and its lengths. */
export interface EncodedBlock {
  head: Buffer;
  body: Buffer[];
  clen: number;
  rawLen: number;
}

/** Encodes `items` as one block (compressed at zstd `level`, or stored when zstd does not shrink them). */
export function encodeBlock(items: Buffer[], level: number): EncodedBlock {
  const rawLen = items.reduce((a, it) => a + it.length, 0);
  let body: Buffer[];
  let clen = rawLen;
  // Random or already-compressed data (a typical disk write) is stored as it is: the
  // first item is probed so that such a block is neither copied nor compressed whole.
  const first = items[0]!;
  const probe = first.length >= PROBE_MIN && rawLen > first.length ? compress(first, { compressionLevel: level }) : undefined;
  if (probe && probe.length > first.length * PROBE_RATIO) body = items;
  else {
    const raw = items.length === 1 ? first : Buffer.concat(items, rawLen);
    const z = compress(raw, { compressionLevel: level, checksumFlag: true });
    if (z.length < rawLen) {
      body = [z];
      clen = z.length;
    } else body = [raw];
  }
  const head = Buffer.allocUnsafe(BLOCK_HEADER);
  head.writeUInt32LE(clen === rawLen ? BLOCK_MAGIC_STORED : BLOCK_MAGIC, 0);
  head.writeUInt32LE(rawLen, 4);
  head.writeUInt32LE(clen, 8);
  head.writeUInt32LE(items.length, 12);
  return { head, body, clen, rawLen };
}

/** zstd decompression context of this thread, made on first use (decompression is synchronous). */
let dctx: InstanceType<typeof zstdBinding.DCtx> | undefined;

/**
 * The concatenated items of a whole encoded block (header included): a view into
 * `block` for a stored block, a new buffer otherwise.
 * @throws TtjError CORRUPT_BLOB when the header is damaged, the body does not decompress or has the wrong length; `where` names the block.
 */
export function decodeBlock(block: Buffer, where: Record<string, unknown>): Buffer {
  const damaged = (what: string, cause?: unknown) => new TtjError(ErrorCodes.CORRUPT_BLOB, `block ${JSON.stringify(where)} ${what}`, where, cause ? { cause } : undefined);
  if (block.length < BLOCK_HEADER) throw damaged('is shorter than its header');
  const magic = block.readUInt32LE(0);
  const rawLen = block.readUInt32LE(4);
  const clen = block.readUInt32LE(8);
  const stored = magic === BLOCK_MAGIC_STORED && clen === rawLen;
  if ((!stored && magic !== BLOCK_MAGIC) || block.length !== BLOCK_HEADER + clen) throw damaged('has a damaged header');
  if (stored) return block.subarray(BLOCK_HEADER);
  const raw = Buffer.allocUnsafe(rawLen);
  let n: number;
  try {
    dctx ??= new zstdBinding.DCtx();
    n = dctx.decompress(raw, block.subarray(BLOCK_HEADER));
  } catch (e) {
    throw damaged('does not decompress', e);
  }
  if (n !== rawLen) throw damaged('has the wrong length');
  return raw;
}
