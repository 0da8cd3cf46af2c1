/**
 * The PCM layouts an audio event may carry (docs/format.md, "Audio"): the one place
 * that says what a well-formed audio chunk is.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import type { ttj } from '../gen/events.js';

/** Bytes per sample of each PCM format an audio event may carry. */
const BYTES_PER_SAMPLE: Record<string, number> = { s16le: 2 };
/** The most interleaved channels an audio event may carry. */
const MAX_CHANNELS = 8;
/** The highest sample rate an audio event may carry, Hz. */
const MAX_SAMPLE_RATE = 384000;

/** How PCM samples are laid out: interleaved frames of `channels` samples. */
export interface PcmLayout {
  sampleRate: number;
  channels: number;
  /** "s16le": signed 16-bit little-endian. */
  format: string;
}

/** Bytes per sample frame (one sample of each channel) of a layout. */
export function bytesPerFrame(l: PcmLayout): number {
  return (BYTES_PER_SAMPLE[l.format] ?? 0) * l.channels;
}

/**
 * Checks an audio event's layout and length: a known format, 1 to 8 channels, a sample
 * rate, and a length that is a whole number of sample frames.
 * @throws TtjError BAD_EVENT_STREAM naming the event.
 */
export function checkAudioShape(a: ttj.v1.IAudioChunk, seq: number): void {
  const layout: PcmLayout = { sampleRate: a.sampleRate ?? 0, channels: a.channels ?? 0, format: a.format ?? '' };
  const length = Number(a.length ?? 0);
  const bad = (why: string) => new TtjError(ErrorCodes.BAD_EVENT_STREAM, `event ${seq}: audio ${why}`, { seq });
  if (!(layout.format in BYTES_PER_SAMPLE)) throw bad(`format ${JSON.stringify(layout.format)} is not one of ${Object.keys(BYTES_PER_SAMPLE).join(', ')}`);
  if (!(Number.isInteger(layout.channels) && layout.channels >= 1 && layout.channels <= MAX_CHANNELS)) throw bad(`has ${layout.channels} channels, not 1 to ${MAX_CHANNELS}`);
  if (!(layout.sampleRate >= 1 && layout.sampleRate <= MAX_SAMPLE_RATE)) throw bad(`sample rate ${layout.sampleRate} is not 1 to ${MAX_SAMPLE_RATE} Hz`);
  if (!(Number.isSafeInteger(length) && length > 0 && length % bytesPerFrame(layout) === 0)) throw bad(`length ${length} is not a positive whole number of ${bytesPerFrame(layout)}-byte sample frames`);
}
