/**
 * RIFF/WAVE files of PCM: the header ttj writes for audio it gives out (fold, export,
 * {@link audioBetween}) and reads from QEMU's `wav` audio backend.
 */

/** Bytes of the canonical PCM WAV header (RIFF, fmt, data). */
export const WAV_HEADER_BYTES = 44;

/** A PCM WAV stream's layout, as its header says. */
export interface WavLayout {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

/** A canonical 44-byte PCM WAV header for `dataBytes` bytes of samples. */
export function wavHeader(l: WavLayout, dataBytes: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const block = (l.channels * l.bitsPerSample) / 8;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(l.channels, 22);
  h.writeUInt32LE(l.sampleRate, 24);
  h.writeUInt32LE(l.sampleRate * block, 28);
  h.writeUInt16LE(block, 32);
  h.writeUInt16LE(l.bitsPerSample, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(Math.min(0xffffffff, dataBytes), 40);
  return h;
}

/**
 * The layout of a canonical PCM WAV header (the first 44 bytes of a file; its size
 * fields may still be 0, as in a file being written), or undefined when it is not one.
 */
export function parseWavHeader(h: Buffer): WavLayout | undefined {
  if (h.length < WAV_HEADER_BYTES || h.toString('ascii', 0, 4) !== 'RIFF' || h.toString('ascii', 8, 16) !== 'WAVEfmt ' || h.toString('ascii', 36, 40) !== 'data') return undefined;
  if (h.readUInt32LE(16) !== 16 || h.readUInt16LE(20) !== 1) return undefined;
  return { channels: h.readUInt16LE(22), sampleRate: h.readUInt32LE(24), bitsPerSample: h.readUInt16LE(34) };
}
