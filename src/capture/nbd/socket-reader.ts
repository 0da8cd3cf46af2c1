import type { Socket } from 'node:net';

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
 */
export class SocketReader {
  private chunks: Buffer[] = [];
  private first = 0; // index of the first live chunk
  private offset = 0; // offset into chunks[first]
  private bufferedBytes = 0;
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void; peek?: boolean } | undefined;
  private failure: Error | undefined;
  private paused = false;

  constructor(private readonly socket: Socket, private readonly highWater = 64 * 1024 * 1024) {
    socket.on('data', (d: Buffer) => this.push(d));
    socket.on('end', () => this.fail(new PeerGoneError()));
    socket.on('close', () => this.fail(new PeerGoneError()));
    socket.on('error', (e) => this.fail(new PeerGoneError(`NBD client connection failed: ${e.message}`)));
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
   * copy — or undefined if fewer than `n` bytes are buffered.
   */
  tryReadChunks(n: number): Buffer[] | undefined {
    if (this.bufferedBytes < n) return undefined;
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[this.first];
      const k = Math.min(c.length - this.offset, left);
      out.push(c.subarray(this.offset, this.offset + k));
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
    if (this.waiting) throw new Error('SocketReader: concurrent reads');
    if (this.paused) this.resumeSocket();
    await new Promise<void>((resolve, reject) => {
      this.waiting = { n, resolve: () => resolve(), reject, peek: true };
    });
  }

  /** Stop reading and forget what is buffered. */
  discard(): void {
    this.chunks = [];
    this.first = 0;
    this.offset = 0;
    this.bufferedBytes = 0;
  }

  private push(d: Buffer): void {
    if (d.length === 0) return;
    this.chunks.push(d);
    this.bufferedBytes += d.length;
    const w = this.waiting;
    if (w && this.bufferedBytes >= w.n) {
      this.waiting = undefined;
      w.resolve(w.peek ? (undefined as unknown as Buffer) : this.take(w.n));
    }
    if (!this.paused && this.bufferedBytes > this.highWater && !this.waiting) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resumeSocket(): void {
    this.paused = false;
    this.socket.resume();
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
      const out = head.subarray(this.offset, this.offset + n);
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
