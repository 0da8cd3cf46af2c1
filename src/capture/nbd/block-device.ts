/**
 * The block-device interface the NBD server serves. A journal-backed device (every write
 * appended to the journal before its promise resolves) and a plain file
 * ({@link FileBlockDevice}) both implement it.
 *
 * Contract the server relies on:
 * - The server validates ranges before calling: `offset + length <= size`, `length > 0`
 *   (zero-length requests are answered without calling the device).
 * - The server never calls write/writeZeroes/trim on a `readOnly` device.
 * - A promise that resolves means the operation is done as far as the client is concerned:
 *   the server sends the reply only after that. A write's promise resolving is the
 *   "journaled before acknowledged" point. With `fua`, it must also be durable.
 * - `flush()` resolves once every write whose promise already resolved is durable.
 * - The server calls device methods in the order requests arrive on a connection, but may
 *   have several calls outstanding at once (it waits for all of them before a flush and
 *   before a write that overlaps an outstanding read or write). A device that cannot take
 *   concurrent calls should serialize internally.
 * - A rejection becomes an NBD error reply (see `nbdErrnoFor` in transmission.ts): a
 *   TtjError READ_ONLY or PERMISSION → EPERM, NO_SPACE → ENOSPC, BAD_ARGUMENT → EINVAL, an fs
 *   ENOSPC/EDQUOT/EFBIG → ENOSPC,
 *   anything else → EIO. The connection stays up.
 */
export interface BlockDevice {
  /** Size in bytes (fixed while served). */
  readonly size: number;
  /** Writes, write-zeroes and trims are refused with EPERM; READ_ONLY is advertised. */
  readonly readOnly: boolean;
  /** Preferred I/O block size (a power of two >= 512); 4096 when absent. */
  readonly blockSize?: number;
  /**
   * True when several connections may safely share the device (no per-connection cache:
   * a flush on one connection makes every completed write of every connection durable).
   * The server then advertises NBD_FLAG_CAN_MULTI_CONN. Absent = false.
   */
  readonly canMultiConn?: boolean;

  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional fast path: read `length` bytes at `offset` into `target` at `targetOffset`
   * (the server preallocates the reply buffer so the data goes straight into it).
   */
  readInto?(target: Buffer, targetOffset: number, offset: number, length: number): Promise<void>;
  /**
   * Write `data` at `offset`. The device must not keep `data` once the promise has
   * settled: the server reuses the buffer for later requests.
   */
  write(offset: number, data: Buffer, opts: { fua: boolean }): Promise<void>;
  /**
   * Optional fast path: the same as `write` with the data given as consecutive pieces (the
   * socket chunks it arrived in, so the server need not copy them into one buffer).
   */
  writev?(offset: number, data: Buffer[], opts: { fua: boolean }): Promise<void>;
  /** Make the range read as zeroes. `mayTrim` false = NBD_CMD_FLAG_NO_HOLE (keep it allocated). */
  writeZeroes(offset: number, length: number, opts: { fua: boolean; mayTrim: boolean }): Promise<void>;
  /** A hint that the range is unused; contents afterwards are unspecified (may read back as zeroes). */
  trim(offset: number, length: number): Promise<void>;
  /** Make every completed write durable. */
  flush(): Promise<void>;
}
