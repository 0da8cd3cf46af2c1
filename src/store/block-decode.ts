/**
 * Decoding a pack block read in bulk (a fold, verify --deep): opened when sealed (an
 * encrypted journal), its items decompressed and each hashed, on the JS thread ({@link decodeBlockInto}) or on a small pool of
 * worker threads ({@link BlockDecodePool}, ./block-decode-worker.ts) so that both
 * cores decompress and hash while the JS thread reads and writes. Both give the same
 * bytes and hashes (test/store/block-decode.test.ts); the pool is used when worker
 * threads start, and `TTJ_WORKERS=0` turns it off.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import zstdBinding from 'zstd-napi/binding.js';
import { sha256Ranges } from '../native/index.js';
import { BLOCK_HEADER, BLOCK_MAGIC, BLOCK_MAGIC_SEALED, BLOCK_MAGIC_STORED } from './block-codec.js';
import { openWith, type OpenKey } from './cipher.js';
import { writeFully } from './blob-target.js';

/** A block's buffers, reused from block to block: what was read, and its decompressed items. */
export interface DecodeBuffers {
  /** The block as read from the pack file (header included), in its first `len` bytes. */
  packed: Buffer;
  /** Its decompressed items (grown when too small; unused for a stored block). */
  raw: Buffer;
}

/** One block to decode: which bytes of `packed` it is, and the item ranges to hash. */
export interface DecodeJob {
  /** Bytes of the block in `packed` (header + body). */
  len: number;
  /** Decompressed length (the header's). */
  rawLen: number;
  /** A stored (uncompressed) block: its items follow the header as they are (for a sealed block, its plain block's header says). */
  stored: boolean;
  /**
   * A sealed block (an encrypted journal: ./block-codec.ts) and the key of its place: it
   * is opened (into a buffer of its own) and its plain block's header checked first.
   */
  open?: OpenKey;
  /** Item ranges in the decompressed bytes to hash (none: no hashing). */
  offsets?: Uint32Array;
  lengths?: Uint32Array;
  /** Where the items go once they hashed to what is expected (with `offsets`/`lengths`): see {@link placeItems}. */
  place?: Placement;
}

/**
 * Where a bulk read (a fold) writes a block's items, so that the thread that decodes
 * them also checks and writes them: item `k` must hash to `expect[32k..32k+32]`, and
 * is then written into the file `fd` (the process's: its threads share it) at byte `at[k]`.
 */
export interface Placement {
  fd: number;
  /** File positions, one per item. */
  at: Float64Array;
  /** The SHA-256 each item must have, 32 bytes per item. */
  expect: Uint8Array;
}

/** A decoded block: its items (a view into the buffers) and, when asked, their SHA-256 (32 bytes each). */
export interface Decoded {
  items: Buffer;
  hashes?: Buffer;
  /** With a {@link Placement}: the first item whose hash is not the one expected (then none was written). */
  mismatch?: number;
}

/** Why a block did not decode (the caller names the block in its error). */
export type DecodeFailure = 'does not decompress' | 'has the wrong length' | 'is not sealed' | 'does not decrypt: it is damaged, moved, or of another key' | 'has a damaged header';

/** A block that did not decode. */
export class DecodeError extends Error {
  constructor(readonly failure: DecodeFailure) {
    super(failure);
  }
}

/** A buffer with an ArrayBuffer of its own (never Node's shared pool): it can be transferred to a worker. */
export function ownBuffer(n: number): Buffer {
  return Buffer.from(new ArrayBuffer(n));
}

/** zstd decompression context of this thread, made on first use. */
let dctx: InstanceType<typeof zstdBinding.DCtx> | undefined;

/**
 * Decodes on this thread: decompresses into `bufs.raw` (replaced by a larger buffer
 * when too small) and hashes the item ranges.
 * @throws DecodeError when the body does not decompress to `rawLen` bytes.
 */
export function decodeBlockInto(bufs: DecodeBuffers, job: DecodeJob): Decoded {
  let items: Buffer;
  let block = bufs.packed.subarray(0, job.len);
  let stored = job.stored;
  if (job.open) {
    block = openSealed(block, job.open, job.rawLen);
    stored = block.readUInt32LE(8) === job.rawLen;
  }
  if (stored) items = block.subarray(BLOCK_HEADER);
  else {
    if (bufs.raw.length < job.rawLen) bufs.raw = ownBuffer(job.rawLen);
    let n: number;
    try {
      dctx ??= new zstdBinding.DCtx();
      n = dctx.decompress(bufs.raw, block.subarray(BLOCK_HEADER));
    } catch {
      throw new DecodeError('does not decompress');
    }
    if (n !== job.rawLen) throw new DecodeError('has the wrong length');
    items = bufs.raw.subarray(0, n);
  }
  const hashes = job.offsets && job.lengths ? sha256Ranges(items, job.offsets, job.lengths) : undefined;
  if (job.place && hashes) return { items, hashes, mismatch: placeItems(items, hashes, job as Required<Pick<DecodeJob, 'offsets' | 'lengths' | 'place'>>) };
  return { items, hashes };
}

/**
 * Checks the items' `hashes` against `job.place.expect` and writes every item at its
 * place. Returns the first item that did not match (then nothing is written), or
 * undefined when all were written.
 */
export function placeItems(items: Buffer, hashes: Buffer, job: Required<Pick<DecodeJob, 'offsets' | 'lengths' | 'place'>>): number | undefined {
  const { fd, at, expect } = job.place;
  if (Buffer.compare(hashes, expect) !== 0) {
    for (let k = 0; k < at.length; k++) if (Buffer.compare(hashes.subarray(k * 32, k * 32 + 32), expect.subarray(k * 32, k * 32 + 32)) !== 0) return k;
  }
  writeRuns(fd, items, job.offsets, job.lengths, at);
  return undefined;
}

/** Writes each item at its place in the file `fd`, items next to each other both in the block and in the file in one write. */
function writeRuns(fd: number, items: Buffer, offsets: Uint32Array, lengths: Uint32Array, at: Float64Array): void {
  for (let k = 0; k < at.length;) {
    let len = lengths[k]!;
    let end = k + 1;
    while (end < at.length && offsets[end] === offsets[k]! + len && at[end] === at[k]! + len) len += lengths[end++]!;
    writeFully(fd, items, offsets[k]!, len, at[k]!);
    k = end;
  }
}

/**
 * The plain block (header included) of the sealed block `sealed`, in a new buffer, its
 * header checked against the raw length `rawLen` the blob index gives.
 * @throws DecodeError when it is not sealed, does not open, or its plain header is damaged.
 */
function openSealed(sealed: Buffer, key: OpenKey, rawLen: number): Buffer {
  if (sealed.length < BLOCK_HEADER || sealed.readUInt32LE(0) !== BLOCK_MAGIC_SEALED || sealed.length !== BLOCK_HEADER + sealed.readUInt32LE(8)) throw new DecodeError('is not sealed');
  const plain = openWith(key, sealed.subarray(BLOCK_HEADER));
  if (!plain) throw new DecodeError('does not decrypt: it is damaged, moved, or of another key');
  const clen = plain.length >= BLOCK_HEADER ? plain.readUInt32LE(8) : -1;
  const magic = clen === rawLen ? BLOCK_MAGIC_STORED : BLOCK_MAGIC;
  if (clen < 0 || plain.readUInt32LE(0) !== magic || plain.readUInt32LE(4) !== rawLen || plain.length !== BLOCK_HEADER + clen) throw new DecodeError('has a damaged header');
  return plain;
}

/** A message to a worker: a job and the buffers it may use (transferred). */
export interface WorkerRequest extends DecodeJob {
  id: number;
  packed: ArrayBuffer;
  raw: ArrayBuffer;
}

/** A worker's answer: the buffers back (transferred), the items' place and hashes, or why it failed. */
export interface WorkerReply {
  id: number;
  packed: ArrayBuffer;
  raw: ArrayBuffer;
  /** Where the items are: in `raw` (compressed block), `packed` (stored block) or `opened` (a sealed stored block), and how long. */
  itemsLen: number;
  /** The plain block of a sealed stored block (its items follow its header): a buffer of its own, transferred. */
  opened?: ArrayBuffer;
  hashes?: Uint8Array;
  /** See {@link Decoded.mismatch}. */
  mismatch?: number;
  failure?: DecodeFailure;
  /** Anything else that went wrong (a failed write of placed items, a bug): the job is failed with it. */
  error?: string;
  /** Its errno name (`ENOSPC`, ...), converted where the caller converts errors. */
  errorCode?: string;
}

interface Pending {
  bufs: DecodeBuffers;
  job: DecodeJob;
  resolve(d: Decoded): void;
  reject(e: unknown): void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Workers in the pool: one per core, at most 4 (the JS thread reads and writes meanwhile). */
const MAX_WORKERS = 4;

/**
 * Worker threads that decode blocks. Buffers go to a worker and come back without a
 * copy (transferred): while a job runs, its {@link DecodeBuffers} must not be used.
 * Workers are started on first use and do not keep the process alive when idle.
 */
export class BlockDecodePool {
  private workers: PoolWorker[] | undefined;
  private nextId = 0;
  private broken: Error | undefined;

  constructor(readonly size: number = Math.max(1, Math.min(MAX_WORKERS, availableParallelism()))) {}

  /**
   * Decodes in a worker; `bufs` is updated to the buffers the worker returns (the items
   * and hashes are views into them, valid until `bufs` is used again). Falls back to
   * this thread when the workers cannot run.
   * @throws DecodeError as {@link decodeBlockInto}.
   */
  decode(bufs: DecodeBuffers, job: DecodeJob): Promise<Decoded> {
    const workers = this.broken ? undefined : this.start();
    if (!workers) return Promise.resolve().then(() => decodeBlockInto(bufs, job));
    const w = workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    // Fresh buffers of their own when the ones given cannot be transferred (Node's pool, a view).
    if (!transferable(bufs.packed)) {
      const own = ownBuffer(bufs.packed.length);
      bufs.packed.copy(own, 0, 0, job.len);
      bufs.packed = own;
    }
    if (!transferable(bufs.raw)) bufs.raw = ownBuffer(job.stored ? 0 : job.rawLen);
    const msg: WorkerRequest = { ...job, id, packed: bufs.packed.buffer as ArrayBuffer, raw: bufs.raw.buffer as ArrayBuffer };
    return new Promise<Decoded>((resolve, reject) => {
      if (w.pending.size === 0) w.worker.ref();
      w.pending.set(id, { bufs, job, resolve, reject });
      w.worker.postMessage(msg, [msg.packed, msg.raw]);
    });
  }

  /** Starts the workers now (they load while the caller does other work), not on the first job. */
  warm(): void {
    if (!this.broken) this.start();
  }

  /** Stops the workers (pending jobs fail). */
  async close(): Promise<void> {
    const ws = this.workers ?? [];
    this.workers = undefined;
    await Promise.all(ws.map((w) => w.worker.terminate()));
  }

  /** The workers, started when there are none; undefined (and the pool broken: this thread decodes) when they cannot start. */
  private start(): PoolWorker[] | undefined {
    if (this.workers) return this.workers;
    try {
      this.workers = Array.from({ length: this.size }, () => this.spawn());
    } catch (e) {
      this.broken ??= e as Error;
      return undefined;
    }
    return this.workers;
  }

  private spawn(): PoolWorker {
    // Node's flags but those a worker refuses: --input-type (for a worker started from a
    // file) and the heap sizes (per process; bin/run.js starts the servers with one).
    const execArgv = process.execArgv.filter((a) => !/^--(input-type|initial-heap-size|max-old-space-size|max-semi-space-size)/.test(a));
    const worker = new Worker(new URL('./block-decode-worker.js', import.meta.url), { execArgv });
    const pw: PoolWorker = { worker, pending: new Map() };
    worker.on('message', (r: WorkerReply) => this.settle(pw, r));
    const fail = (e: Error) => {
      this.broken ??= e;
      for (const p of pw.pending.values()) p.reject(e);
      pw.pending.clear();
      if (this.workers?.includes(pw)) this.workers = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`block decode worker exited (${code})`)));
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return pw;
  }

  private settle(pw: PoolWorker, r: WorkerReply): void {
    const p = pw.pending.get(r.id);
    if (!p) return;
    pw.pending.delete(r.id);
    if (pw.pending.size === 0) pw.worker.unref();
    p.bufs.packed = Buffer.from(r.packed);
    p.bufs.raw = Buffer.from(r.raw);
    if (r.failure) return p.reject(new DecodeError(r.failure));
    if (r.error) return p.reject(Object.assign(new Error(r.error), r.errorCode ? { code: r.errorCode } : {}));
    const items = r.opened ? Buffer.from(r.opened, BLOCK_HEADER, r.itemsLen) : p.job.stored && !p.job.open ? p.bufs.packed.subarray(BLOCK_HEADER, BLOCK_HEADER + r.itemsLen) : p.bufs.raw.subarray(0, r.itemsLen);
    p.resolve({ items, hashes: r.hashes ? Buffer.from(r.hashes.buffer, r.hashes.byteOffset, r.hashes.byteLength) : undefined, mismatch: r.mismatch });
  }
}

/** True when `b` is the whole of an ArrayBuffer that is not Node's shared buffer pool. */
export function transferable(b: Buffer): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer);
}

let shared: BlockDecodePool | undefined | null;

/** The process's pool, or `undefined` when `TTJ_WORKERS=0` or worker threads are unavailable. */
export function decodePool(): BlockDecodePool | undefined {
  if (shared === undefined) shared = process.env.TTJ_WORKERS === '0' ? null : new BlockDecodePool();
  return shared ?? undefined;
}
