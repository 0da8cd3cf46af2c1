/**
 * The old contents of disk blocks that small writes change in part (their bases), found
 * before they are needed: the blocks written recently (kept by their content address,
 * least recently used dropped first) and reads started as a write arrives, so that a
 * read-modify-write waits for no read, or for one already under way.
 *
 * @module
 */

/** Reads whole blobs `addrs` into one buffer, blob `i` at `i * blockSize`. */
type ReadBlobs = (addrs: Buffer[]) => Promise<Buffer>;

interface Pending {
  addr: Buffer;
  data: Promise<Buffer | undefined>;
}

export class BlockBases {
  /** Block → its content under an address, least recently used first. */
  private readonly recent = new Map<number, { addr: Buffer; data: Buffer }>();
  private recentBytes = 0;
  private readonly pending = new Map<number, Pending>();
  /** Reads asked for in this turn of the event loop (read together, one store call). */
  private asked: { block: number; addr: Buffer; resolve(d: Buffer | undefined): void }[] = [];

  /** `limit`: bytes of recent blocks kept. */
  constructor(
    private readonly blockSize: number,
    private readonly readBlobs: ReadBlobs,
    private readonly limit: number,
  ) {}

  /** Starts reading block `block`'s content `addr` (copied), unless it is kept or being read. */
  prefetch(block: number, at: Buffer): void {
    const addr = Buffer.from(at);
    if (this.recent.get(block)?.addr.equals(addr) || this.pending.get(block)?.addr.equals(addr)) return;
    const data = new Promise<Buffer | undefined>((resolve) => {
      if (this.asked.length === 0) setImmediate(() => this.readAsked());
      this.asked.push({ block, addr, resolve });
    });
    this.pending.set(block, { addr, data });
  }

  /**
   * Block `block`'s content if it is `addr`: kept (a buffer), or being read (a promise of
   * it, undefined if that read failed); undefined when neither. The buffer must not be
   * changed.
   */
  take(block: number, addr: Buffer): Buffer | Promise<Buffer | undefined> | undefined {
    const kept = this.recent.get(block);
    if (kept?.addr.equals(addr)) {
      this.recent.delete(block);
      this.recent.set(block, kept);
      return kept.data;
    }
    const p = this.pending.get(block);
    if (p?.addr.equals(addr)) return p.data;
    return undefined;
  }

  /** Keeps `data` (which no one changes later) as block `block`'s content `addr` (a read of an older content is of no more use). */
  remember(block: number, addr: Buffer, data: Buffer): void {
    this.forget(block);
    if (!this.pending.get(block)?.addr.equals(addr)) this.pending.delete(block);
    if (this.limit < data.length) return;
    this.recent.set(block, { addr, data });
    this.recentBytes += data.length;
    for (const [b, v] of this.recent) {
      if (this.recentBytes <= this.limit) break;
      this.recent.delete(b);
      this.recentBytes -= v.data.length;
    }
  }

  /** Forgets block `block`'s kept content (it changed, to a content not kept). */
  forget(block: number): void {
    const kept = this.recent.get(block);
    if (kept) {
      this.recent.delete(block);
      this.recentBytes -= kept.data.length;
    }
  }

  private readAsked(): void {
    const asked = this.asked;
    this.asked = [];
    const bs = this.blockSize;
    const settle = (i: number, data: Buffer | undefined) => {
      const a = asked[i]!;
      // Kept for a write that arrives later, unless the block changed since.
      if (this.pending.get(a.block)?.addr === a.addr) {
        this.pending.delete(a.block);
        if (data) this.remember(a.block, a.addr, data);
      }
      a.resolve(data);
    };
    this.readBlobs(asked.map((a) => a.addr)).then(
      // Views of one buffer, not copies (a copy of each costs more than the memory a kept
      // view holds on to: the reads of one turn are few blocks).
      (bytes) => asked.forEach((_, i) => settle(i, bytes.subarray(i * bs, (i + 1) * bs))),
      () => asked.forEach((_, i) => settle(i, undefined)),
    );
  }
}
