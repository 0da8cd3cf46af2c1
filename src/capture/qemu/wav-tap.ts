/**
 * Reads the sound a guest plays while QEMU writes it: QEMU's `wav` audio backend
 * appends PCM to a WAV file as the guest plays (its sizes are fixed up only when QEMU
 * exits), so the bytes past the header are read as the file grows.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCodes, TtjError } from '../../errors.js';
import type { AudioInput } from '../../journal/append-images.js';
import { bytesPerFrame, type PcmLayout } from '../../journal/audio-format.js';
import { parseWavHeader, WAV_HEADER_BYTES } from '../../util/wav.js';

/** Bytes read from the file at most per {@link WavTap.mark} (the rest waits for the next). */
const MAX_READ = 16 << 20;

/**
 * The growing WAV file of one QEMU run. {@link mark} reads what QEMU wrote since the
 * last call and returns the stream position reached (in sample frames); {@link take}
 * hands the samples up to a position over once, in order. So captures that overlap
 * take their sound in the order they are appended, each the sound read up to it.
 */
export class WavTap {
  private fh: FileHandle | undefined;
  private layout: PcmLayout | undefined;
  private offset = WAV_HEADER_BYTES;
  /** Samples read but not taken, from sample frame {@link taken}. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private taken = 0;
  private reading: Promise<number> = Promise.resolve(0);

  constructor(
    /** The WAV file QEMU writes. */
    readonly path: string,
  ) {}

  /** The PCM layout, once QEMU has written the header. */
  get pcm(): PcmLayout | undefined {
    return this.layout;
  }

  /** Sample frames read so far. */
  get position(): number {
    return this.layout ? this.taken + this.pendingBytes / bytesPerFrame(this.layout) : 0;
  }

  /**
   * Reads what QEMU wrote since the last call; returns the stream position reached, in
   * sample frames. Calls run one at a time, in call order.
   * @throws TtjError QEMU_FAILED when the file's header is not a 16-bit PCM WAV header.
   */
  mark(): Promise<number> {
    this.reading = this.reading.then(() => this.readMore());
    return this.reading;
  }

  /** The samples from the last one taken up to sample frame `upTo` (undefined when there are none). */
  take(upTo: number): AudioInput | undefined {
    if (!this.layout || upTo <= this.taken) return undefined;
    const all = Buffer.concat(this.pending);
    const bytes = Math.min(all.length, (upTo - this.taken) * bytesPerFrame(this.layout));
    const out: AudioInput = { ...this.layout, pcm: all.subarray(0, bytes), firstSample: this.taken };
    this.pending = [all.subarray(bytes)];
    this.pendingBytes = all.length - bytes;
    this.taken += bytes / bytesPerFrame(this.layout);
    return out;
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.reading.catch(() => undefined);
    await this.fh?.close();
    this.fh = undefined;
  }

  private async readMore(): Promise<number> {
    if (!this.fh) {
      try {
        this.fh = await open(this.path, 'r');
      } catch {
        return this.position; // QEMU has not created it yet
      }
    }
    if (!this.layout) {
      const h = Buffer.alloc(WAV_HEADER_BYTES);
      const { bytesRead } = await this.fh.read(h, 0, h.length, 0);
      if (bytesRead < WAV_HEADER_BYTES) return 0; // not flushed yet
      const wav = parseWavHeader(h);
      if (!wav || wav.bitsPerSample !== 16 || wav.channels < 1) throw new TtjError(ErrorCodes.QEMU_FAILED, `${this.path} is not the 16-bit PCM WAV file QEMU's wav audio backend writes`, { path: this.path });
      this.layout = { sampleRate: wav.sampleRate, channels: wav.channels, format: 's16le' };
    }
    const frame = bytesPerFrame(this.layout);
    const size = (await this.fh.stat()).size;
    const want = Math.min(MAX_READ, Math.floor((size - this.offset) / frame) * frame);
    if (want > 0) {
      const b = Buffer.alloc(want);
      const { bytesRead } = await this.fh.read(b, 0, want, this.offset);
      const whole = bytesRead - (bytesRead % frame);
      this.offset += whole;
      this.pending.push(b.subarray(0, whole));
      this.pendingBytes += whole;
    }
    return this.position;
  }
}
