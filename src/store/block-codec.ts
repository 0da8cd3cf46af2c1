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
 *
 * An encrypted journal's blocks are sealed (./cipher.ts): `"TTJE" | u32 raw length | u32
 * sealed length | u32 item count | nonce | AES-256-GCM of the whole plain block (header
 * included) | tag`, bound to the block's place (pack and offset, or block row). Its two
 * lengths always differ, so no reader copies its bytes as items.
 */
import { compress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { ErrorCodes, TtjError } from '../errors.js';
import type { JournalCipher } from './cipher.js';

export const BLOCK_MAGIC = 0x424a5454; // "TTJB" little-endian
export const BLOCK_MAGIC_STORED = 0x524a5454; // "TTJR" little-endian
export const BLOCK_MAGIC_SEALED = 0x454a5454; // "TTJE" little-endian
export const BLOCK_HEADER = 16;

/** How an encrypted journal's block is sealed: its cipher, and the block's place (associated data). */
export interface BlockSeal {
  cipher: JournalCipher;
  /** Names the block's place (`pack 3 offset 4096`, `block 17`): a block moved elsewhere does not open. */
  place: string;
}
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

/**
 * Encodes `items` as one block (compressed at zstd `level`, or stored when zstd does not
 * shrink them), sealed with `seal` for an encrypted journal (compressed first).
 */
export function encodeBlock(items: Buffer[], level: number, seal?: BlockSeal): EncodedBlock {
  const plain = encodePlainBlock(items, level);
  if (!seal) return plain;
  let sealed = sealBlock(plain, seal);
  // Equal lengths would say "stored"; a block that barely compresses is sealed as stored instead.
  if (sealed.clen === plain.rawLen) sealed = sealBlock(storedBlock(items, plain.rawLen), seal);
  return sealed;
}

function sealBlock(plain: EncodedBlock, seal: BlockSeal): EncodedBlock {
  const body = seal.cipher.seal([plain.head, ...plain.body], seal.place);
  const clen = body.reduce((a, b) => a + b.length, 0);
  return { head: blockHeader(BLOCK_MAGIC_SEALED, plain.rawLen, clen, plain.head.readUInt32LE(12)), body, clen, rawLen: plain.rawLen };
}

function storedBlock(items: Buffer[], rawLen: number): EncodedBlock {
  return { head: blockHeader(BLOCK_MAGIC_STORED, rawLen, rawLen, items.length), body: items, clen: rawLen, rawLen };
}

function blockHeader(magic: number, rawLen: number, clen: number, count: number): Buffer {
  const head = Buffer.allocUnsafe(BLOCK_HEADER);
  head.writeUInt32LE(magic, 0);
  head.writeUInt32LE(rawLen, 4);
  head.writeUInt32LE(clen, 8);
  head.writeUInt32LE(count, 12);
  return head;
}

function encodePlainBlock(items: Buffer[], level: number): EncodedBlock {
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
  return { head: blockHeader(clen === rawLen ? BLOCK_MAGIC_STORED : BLOCK_MAGIC, rawLen, clen, items.length), body, clen, rawLen };
}

/** zstd decompression context of this thread, made on first use (decompression is synchronous). */
let dctx: InstanceType<typeof zstdBinding.DCtx> | undefined;

/**
 * The plain block (header included, as {@link decodeBlock} reads it) of a whole sealed
 * block, opened for its place; its raw length is the one the sealed header says.
 * @throws TtjError CORRUPT_BLOB when it is not sealed (an encrypted journal has only sealed blocks), does not open, or its lengths disagree.
 */
function openBlock(block: Buffer, where: Record<string, unknown>, seal: BlockSeal): Buffer {
  const damaged = (what: string) => new TtjError(ErrorCodes.CORRUPT_BLOB, `block ${JSON.stringify(where)} ${what}`, where);
  if (block.length < BLOCK_HEADER || block.readUInt32LE(0) !== BLOCK_MAGIC_SEALED || block.length !== BLOCK_HEADER + block.readUInt32LE(8)) throw damaged('is not sealed');
  const inner = seal.cipher.open(block.subarray(BLOCK_HEADER), seal.place, where);
  if (inner.length < BLOCK_HEADER || inner.readUInt32LE(4) !== block.readUInt32LE(4)) throw damaged('has the wrong length');
  return inner;
}

/**
 * The concatenated items of a whole encoded block (header included): a view into
 * `block` for a stored block, a new buffer otherwise. With `seal` (an encrypted
 * journal) the block must be sealed for its place, and is opened first.
 * @throws TtjError CORRUPT_BLOB when the header is damaged, the block does not decrypt, the body does not decompress or has the wrong length; `where` names the block.
 */
export function decodeBlock(block: Buffer, where: Record<string, unknown>, seal?: BlockSeal): Buffer {
  const damaged = (what: string, cause?: unknown) => new TtjError(ErrorCodes.CORRUPT_BLOB, `block ${JSON.stringify(where)} ${what}`, where, cause ? { cause } : undefined);
  if (block.length < BLOCK_HEADER) throw damaged('is shorter than its header');
  const magic = block.readUInt32LE(0);
  const rawLen = block.readUInt32LE(4);
  const clen = block.readUInt32LE(8);
  if (seal || magic === BLOCK_MAGIC_SEALED) {
    if (!seal) throw damaged('is sealed, in a journal that is not encrypted');
    return decodeBlock(openBlock(block, where, seal), where);
  }
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
