import type { BlockDevice } from './nbd/block-device.js';

/**
 * A writable block device that is handed over from one backing to another: until
 * {@link attach} it reads from `before` (a read-only source with the same bytes, such as
 * the disk image a journal disk is about to be imported from) and holds back writes,
 * flushes and trims; from then on everything goes to the attached device. `ttj record`
 * serves a new disk this way so that QEMU can start (and read its disks) before the
 * journal changes at all.
 */
export class HandoverBlockDevice implements BlockDevice {
  readonly readOnly = false;
  readonly canMultiConn = true;
  private live: BlockDevice | undefined;
  private readonly attached: Promise<BlockDevice>;
  private resolveAttached!: (d: BlockDevice) => void;

  constructor(
    /** The source served until {@link attach}; it must hold the same bytes as the device attached. */
    private readonly before: BlockDevice,
    readonly size: number,
    readonly blockSize: number,
  ) {
    this.attached = new Promise((r) => (this.resolveAttached = r));
  }

  /** Serves everything from `live` from now on (writes held back so far go to it). */
  attach(live: BlockDevice): void {
    this.live = live;
    this.resolveAttached(live);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return (this.live ?? this.before).read(offset, length);
  }

  async readInto(target: Buffer, targetOffset: number, offset: number, length: number): Promise<void> {
    const d = this.live ?? this.before;
    if (d.readInto) return d.readInto(target, targetOffset, offset, length);
    (await d.read(offset, length)).copy(target, targetOffset);
  }

  async write(offset: number, data: Buffer, opts: { fua: boolean }): Promise<void> {
    return (await this.attached).write(offset, data, opts);
  }

  async writev(offset: number, data: Buffer[], opts: { fua: boolean }): Promise<void> {
    const d = await this.attached;
    return d.writev ? d.writev(offset, data, opts) : d.write(offset, Buffer.concat(data), opts);
  }

  async writeZeroes(offset: number, length: number, opts: { fua: boolean; mayTrim: boolean }): Promise<void> {
    return (await this.attached).writeZeroes(offset, length, opts);
  }

  async trim(offset: number, length: number): Promise<void> {
    return (await this.attached).trim(offset, length);
  }

  async flush(): Promise<void> {
    return (await this.attached).flush();
  }
}
