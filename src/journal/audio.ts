/**
 * The sound a journal recorded (docs/format.md, "Audio"): the audio events between two
 * frames or two stream positions, found through the index and read as PCM or WAV.
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { wavHeader } from '../util/wav.js';
import { bytesPerFrame, type PcmLayout } from './audio-format.js';
import { buf } from './codec.js';
import { readChunked } from './read-chunked.js';
import type { AudioEntry } from './index-keys.js';
import type { Journal } from './journal.js';

/** Sound taken from a journal: the PCM of consecutive audio events, joined. */
export interface AudioClip extends PcmLayout {
  /** Interleaved samples. */
  pcm: Buffer;
  /** Sample frames in `pcm`. */
  samples: number;
  /** The audio events it joins, in stream order. */
  chunks: AudioEntry[];
}

/**
 * The sound recorded in the stream positions `fromSeq <= seq < toSeq`: every audio
 * event there, joined (undefined when there is none). Events are found through the
 * index and each is confirmed by its event; content is checked against its hash.
 * @throws TtjError CORRUPT_STORE (an index entry that names no audio event, or events of
 * different layouts), CORRUPT_BLOB.
 */
export async function audioInRange(j: Journal, fromSeq: number, toSeq: number): Promise<AudioClip | undefined> {
  const chunks: AudioEntry[] = [];
  for await (const a of j.audio({ from: Math.max(0, fromSeq), to: Math.max(0, toSeq) })) chunks.push(a);
  if (!chunks.length) return undefined;
  const { sampleRate, channels, format } = chunks[0]!;
  const parts: Buffer[] = [];
  for (const c of chunks) {
    const damaged = (why: string) => new TtjError(ErrorCodes.CORRUPT_STORE, `the journal's index is damaged: audio entry ${c.seq} ${why} (ttj repair rebuilds it from the events)`, { seq: c.seq });
    if (c.sampleRate !== sampleRate || c.channels !== channels || c.format !== format)
      throw damaged(`is ${c.sampleRate} Hz ${c.channels} channels ${c.format}, the audio before it ${sampleRate} Hz ${channels} channels ${format}`);
    const ev = await j.event(c.seq);
    if (ev.body !== 'audio' || Number(ev.audio!.length) !== c.bytes) throw damaged('does not match its event');
    parts.push(await readChunked(j, buf(ev.audio!.chunkAddrs), buf(ev.audio!.contentHash), `the audio of event ${c.seq}`));
  }
  const pcm = Buffer.concat(parts);
  return { sampleRate, channels, format, pcm, samples: pcm.length / bytesPerFrame({ sampleRate, channels, format }), chunks };
}

/**
 * The sound the guest played from frame `fromFrame` to frame `toFrame`: the audio
 * events after the first frame's event and before the second's (each frame is appended
 * right after the audio played up to it). Undefined when there is none.
 * @throws TtjError BAD_ARGUMENT (`fromFrame` is not before `toFrame`), POINT_NOT_FOUND (no such frame),
 * and what {@link audioInRange} throws.
 */
export async function audioBetween(j: Journal, fromFrame: number, toFrame: number): Promise<AudioClip | undefined> {
  if (!(Number.isSafeInteger(fromFrame) && Number.isSafeInteger(toFrame) && fromFrame >= 0 && fromFrame < toFrame)) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `audio between frames ${fromFrame} and ${toFrame}: give two frame numbers, the first before the second`, { actual: `${fromFrame}..${toFrame}` });
  }
  const frame = async (n: number) => {
    const f = await j.frame(n);
    if (!f) throw new TtjError(ErrorCodes.POINT_NOT_FOUND, `no frame ${n} (the journal has ${((await j.lastFrame())?.frame ?? -1) + 1})`, { point: `frame:${n}` });
    return f;
  };
  const [a, b] = [await frame(fromFrame), await frame(toFrame)];
  return audioInRange(j, a.seq + 1, b.seq);
}

/** A clip as a WAV file's bytes (PCM, its layout in the header). */
export function wavBytes(clip: AudioClip): Buffer {
  return Buffer.concat([wavHeader({ sampleRate: clip.sampleRate, channels: clip.channels, bitsPerSample: (bytesPerFrame(clip) / clip.channels) * 8 }, clip.pcm.length), clip.pcm]);
}
