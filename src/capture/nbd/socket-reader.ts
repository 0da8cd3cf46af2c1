import type { Socket } from 'node:net';
import { createSocketPump, socketPumpAvailable, type SocketPump } from '../../native/socket-pump.js';
import { ErrorCodes, TtjError } from '../../errors.js';

/** Bytes of one receive buffer of the native pump. */
const SLAB_BYTES = 8 * 1024 * 1024;
/**
 * Free receive buffers kept for reuse by all connections: fresh memory costs page faults
 * on every first touch, and clients such as nbdcopy open new connections for every copy.
 */
const SLAB_POOL = 8;
const freeSlabs: Buffer[] = [];

/** A receive buffer of the pump: reused once retired and no view of it is held. */
interface Slab {
  buf: Buffer;
  fill: number;
  /** Chunks not yet consumed plus views handed out and not released. */
  refs: number;
  retired: boolean;
}

/** The parts of Node's socket the pump needs: its descriptor, and stopping its reads. */
interface SocketInternals {
  _handle?: { fd?: number; reading?: boolean; readStop?: () => number; readStart?: () => number } | null;
  _read: (n: number) => void;
}

/** The peer closed (or reset) the connection before the bytes asked for arrived. */
export class PeerGoneError extends Error {
  constructor(message = 'NBD client disconnected') {
    super(message);
    this.name = 'PeerGoneError';
  }
}

/**
 * Reads exact byte counts from a socket. Bytes are kept as the chunks the socket delivered;
 * a read that lies inside one chunk is a zero-copy view, otherwise the pieces are copied
 * once into a buffer of the exact size. Pauses the socket while more than `highWater`
 * bytes are buffered (backpressure towards a client that pipelines faster than we serve).
 *
 * With {@link SocketReader.startPump} the bytes come from the native addon's pump
 * instead (a thread of its own receives them into large reused buffers); Node's reads
 * are the fallback and give the same bytes.
 */
export class SocketReader {
  private chunks: Buffer[] = [];
  private first = 0; // index of the first live chunk
  private offset = 0; // offset into chunks[first]
  private bufferedBytes = 0;
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void; peek?: boolean } | undefined;
  private failure: Error | undefined;
  private paused = false;
  private pump: SocketPump | undefined;
  private pumping = false;
  private slab: Slab | undefined;
  private readonly slabOf = new Map<ArrayBufferLike, Slab>();

  constructor(
    private readonly socket: Socket,
    private readonly highWater = 64 * 1024 * 1024,
  ) {
    socket.on('data', (d: Buffer) => {
      // Node must not read while the pump does: bytes would arrive out of order.
      if (this.pump) this.fail(new PeerGoneError('NBD connection read by two readers at once'));
      else this.push(d);
    });
    socket.on('end', () => this.fail(new PeerGoneError()));
    socket.on('close', () => {
      // The pump's duplicate of the socket would keep the connection open: a socket
      // destroyed by the server (e.g. on a close timeout) ends the pump too.
      this.stopPump();
      this.fail(new PeerGoneError());
    });
    socket.on('error', (e) => this.fail(new PeerGoneError(`NBD client connection failed: ${e.message}`)));
  }

  /**
   * From now on the native pump receives the socket's bytes (Node's reads stop). Call it
   * when the client cannot have sent anything Node has not delivered yet. False (and
   * nothing changes) when the addon has no pump or the socket has no descriptor.
   */
  startPump(): boolean {
    if (this.pump || this.failure || !socketPumpAvailable()) return false;
    const s = this.socket as unknown as SocketInternals;
    const h = s._handle;
    if (!h || typeof h.fd !== 'number' || h.fd < 0 || typeof h.readStop !== 'function' || typeof h.readStart !== 'function' || this.socket.readableLength > 0) return false;
    let pump: SocketPump;
    try {
      pump = createSocketPump(h.fd, (err, n) => this.onPumped(err, n ?? 0));
    } catch {
      return false;
    }
    h.reading = false;
    h.readStop();
    // Nothing in Node may start its reads again (Readable calls _read to refill).
    s._read = () => undefined;
    this.pump = pump;
    this.pumpNext();
    return true;
  }

  /** Stops the pump (Node reads the socket again, e.g. to see the client's end). Idempotent. */
  stopPump(): void {
    const pump = this.pump;
    if (!pump) return;
    pump.stop();
    this.pump = undefined;
    this.pumping = false;
    if (this.slab) this.retire(this.slab);
    this.slab = undefined;
    delete (this.socket as unknown as Record<string, unknown>)._read;
    // Node's reads start again where the pump stopped (as net.Socket itself starts them).
    const h = (this.socket as unknown as SocketInternals)._handle;
    if (h && !this.socket.destroyed) {
      h.reading = true;
      h.readStart!();
    }
  }

  /** Keeps a view from {@link tryReadChunks} valid until {@link release} (its buffer is not reused before). */
  private retain(view: Buffer): void {
    const slab = this.slabOf.get(view.buffer);
    if (slab) slab.refs++;
  }

  /** Gives back a view from {@link tryReadChunks} (nothing to do for Node's own chunks). */
  release(view: Buffer): void {
    const slab = this.slabOf.get(view.buffer);
    if (!slab) return;
    slab.refs--;
    this.maybeFree(slab);
  }

  private pumpNext(): void {
    const pump = this.pump;
    if (!pump || this.pumping || this.paused || this.failure) return;
    // The pump fills a whole receive buffer, handing over each batch as it arrives.
    if (this.slab) this.retire(this.slab);
    const slab = this.newSlab();
    this.slab = slab;
    this.pumping = true;
    pump.read(slab.buf, 0, slab.buf.length);
  }

  private onPumped(err: Error | null, n: number): void {
    if (err || n === 0) {
      this.pumping = false;
      return this.fail(err ? new PeerGoneError(`NBD client connection failed: ${err.message}`) : new PeerGoneError());
    }
    const slab = this.slab!;
    const start = slab.fill;
    slab.fill += n;
    if (slab.fill === slab.buf.length) this.pumping = false;
    const last = this.chunks.length > this.first ? this.chunks[this.chunks.length - 1]! : undefined;
    if (last && last.buffer === slab.buf.buffer && last.byteOffset + last.length === slab.buf.byteOffset + start) {
      // The batch continues the last unconsumed chunk in the same buffer: the two become
      // one chunk (holding the one reference), so that a request whose payload arrived in
      // several batches is still one view, given to the device without a copy.
      this.chunks[this.chunks.length - 1] = slab.buf.subarray(last.byteOffset - slab.buf.byteOffset, start + n);
      this.added(n);
    } else {
      slab.refs++; // until the chunk is consumed
      this.push(slab.buf.subarray(start, start + n));
    }
    this.pumpNext();
  }

  private newSlab(): Slab {
    const slab: Slab = { buf: freeSlabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_BYTES), fill: 0, refs: 0, retired: false };
    this.slabOf.set(slab.buf.buffer, slab);
    return slab;
  }

  private retire(slab: Slab): void {
    slab.retired = true;
    this.maybeFree(slab);
  }

  private maybeFree(slab: Slab): void {
    if (!slab.retired || slab.refs > 0) return;
    this.slabOf.delete(slab.buf.buffer);
    if (freeSlabs.length < SLAB_POOL) freeSlabs.push(slab.buf);
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** True once the peer is gone (no more bytes will ever arrive). */
  get ended(): boolean {
    return this.failure !== undefined;
  }

  /** `n` bytes if they are already buffered, else undefined (no waiting). */
  tryRead(n: number): Buffer | undefined {
    if (this.bufferedBytes < n) return undefined;
    return this.take(n);
  }

  /** Exactly `n` bytes; rejects with {@link PeerGoneError} if the peer goes away first. */
  read(n: number): Promise<Buffer> {
    if (this.bufferedBytes >= n) return Promise.resolve(this.take(n));
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('SocketReader: concurrent reads'));
    if (this.paused) this.resumeSocket();
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
    });
  }

  /**
   * `n` already-buffered bytes as the list of (views of) the chunks that hold them — no
   * copy — or undefined if fewer than `n` bytes are buffered. Give each view back with
   * {@link release} once done with it.
   */
  tryReadChunks(n: number): Buffer[] | undefined {
    if (this.bufferedBytes < n) return undefined;
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[this.first];
      const k = Math.min(c.length - this.offset, left);
      const view = c.subarray(this.offset, this.offset + k);
      this.retain(view);
      out.push(view);
      left -= k;
      this.offset += k;
      this.bufferedBytes -= k;
      if (this.offset === c.length) this.shift();
    }
    this.maybeResume();
    return out;
  }

  /** Resolves once at least `n` bytes are buffered (or rejects when the peer is gone). */
  async waitFor(n: number): Promise<void> {
    if (this.bufferedBytes >= n) return;
    if (this.failure) throw this.failure;
    if (this.waiting) throw new TtjError(ErrorCodes.INTERNAL, 'SocketReader: concurrent reads');
    if (this.paused) this.resumeSocket();
    await new Promise<void>((resolve, reject) => {
      this.waiting = { n, resolve: () => resolve(), reject, peek: true };
    });
  }

  /** Stop reading and forget what is buffered. */
  discard(): void {
    for (let i = this.first; i < this.chunks.length; i++) this.release(this.chunks[i]!);
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.bufferedBytes = 0;
  }

  private push(d: Buffer): void {
    if (d.length === 0) return;
    this.chunks.push(d);
    this.added(d.length);
  }

  /** `n` more bytes are buffered: wakes a waiting read, pauses reads above the high-water mark. */
  private added(n: number): void {
    this.bufferedBytes += n;
    const w = this.waiting;
    if (w && this.bufferedBytes >= w.n) {
      this.waiting = undefined;
      w.resolve(w.peek ? (undefined as unknown as Buffer) : this.take(w.n));
    }
    if (!this.paused && this.bufferedBytes > this.highWater && !this.waiting) {
      this.paused = true;
      if (!this.pump) this.socket.pause();
    }
  }

  private resumeSocket(): void {
    this.paused = false;
    if (this.pump) this.pumpNext();
    else this.socket.resume();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w.reject(e);
    }
  }

  private take(n: number): Buffer {
    this.bufferedBytes -= n;
    if (n === 0) return Buffer.alloc(0);
    const head = this.chunks[this.first];
    const avail = head.length - this.offset;
    if (avail >= n) {
      // A view of a pump buffer is copied: the buffer may be refilled once consumed.
      const view = head.subarray(this.offset, this.offset + n);
      const out = this.slabOf.has(head.buffer) ? Buffer.from(view) : view;
      this.offset += n;
      if (this.offset === head.length) this.shift();
      this.maybeResume();
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.first];
      const k = Math.min(c.length - this.offset, n - filled);
      c.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.offset += k;
      if (this.offset === c.length) this.shift();
    }
    this.maybeResume();
    return out;
  }

  private shift(): void {
    this.release(this.chunks[this.first]!);
    this.chunks[this.first] = undefined as unknown as Buffer;
    this.first++;
    this.offset = 0;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  private maybeResume(): void {
    if (this.paused && this.bufferedBytes <= this.highWater / 2) this.resumeSocket();
  }
}
