import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, TtjError } from '../../errors.js';
import { audioInRange, wavBytes } from '../../journal/audio.js';
import { buf } from '../../journal/codec.js';
import { readChunked } from '../../journal/read-chunked.js';
import type { Journal } from '../../journal/journal.js';
import type { FrameEntry } from '../../journal/index-keys.js';
import { resolvePoint } from '../../journal/point.js';
import { runTool } from './run-tool.js';

/** The video formats of `--frames`. */
export const FRAME_FORMATS = ['mp4', 'webm'] as const;
/** One of {@link FRAME_FORMATS}. */
export type FrameFormat = (typeof FRAME_FORMATS)[number];

/** Timestamps are kept to the millisecond (the image demuxer's time base at this rate). */
const TICKS_PER_SECOND = 1000;

/** yuv420p needs an even width and height: odd ones get a black column or row. */
const EVEN_SIZE = 'pad=ceil(iw/2)*2:ceil(ih/2)*2';

/** The encoder of each format. */
const CODECS: Record<FrameFormat, string[]> = {
  mp4: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
  webm: ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p', '-b:v', '0', '-crf', '32'],
};

/** The audio encoder of each format (when the journal recorded sound). */
const AUDIO_CODECS: Record<FrameFormat, string[]> = {
  mp4: ['-c:a', 'aac', '-b:a', '128k'],
  webm: ['-c:a', 'libopus', '-b:a', '96k'],
};

/** What `--frames` wrote. */
export interface FramesExport {
  file: string;
  format: FrameFormat;
  /** First and last frame numbers in the video, and how many. */
  firstFrame: number;
  lastFrame: number;
  count: number;
  /** ISO-8601 times of the first and last frame. */
  since: string;
  until: string;
  /** Seconds from the first frame to the last (each frame is shown until the next; the last one for one millisecond). */
  durationSeconds: number;
  /**
   * The sound track, when the journal recorded sound between the first and the last
   * frame: the audio events after the first frame and before the last, from the first frame's time.
   */
  audio?: { events: number; samples: number; seconds: number; sampleRate: number; channels: number };
}

/**
 * Writes the journal's frames from `since` to `until` (POINTs; `frame:N` is frame N
 * itself, any other point its seq) as `frames.FORMAT` in `outDir` with ffmpeg: every frame once, at its recorded
 * time relative to the first (variable frame rate, millisecond timestamps). Each PNG is
 * checked against its recorded content hash. When the journal recorded sound between the
 * first and the last frame, the video has it as its audio track (AAC in mp4, Opus in webm).
 * @throws TtjError POINT_NOT_FOUND (no frame in the span), BAD_POINT, TOOL_FAILED (ffmpeg).
 */
export async function exportFrames(j: Journal, opts: { format: FrameFormat; since?: string; until?: string; workDir: string; outDir: string }): Promise<FramesExport> {
  const lo = opts.since ? await frameSeq(j, opts.since) : 0;
  const hi = opts.until ? await frameSeq(j, opts.until) : (await j.head()).seq;
  const frames: FrameEntry[] = [];
  for await (const f of j.frames()) if (f.seq >= lo && f.seq <= hi) frames.push(f);
  if (!frames.length) throw new TtjError(ErrorCodes.POINT_NOT_FOUND, `no frame from ${opts.since ?? 'the first'} to ${opts.until ?? 'the head'}`, { point: `${opts.since ?? ''}..${opts.until ?? ''}` });
  const dir = join(opts.workDir, 'frames');
  await mkdir(dir, { recursive: true });
  const t0 = frames[0]!.timeUs;
  const tick = (us: number) => Math.round(((us - t0) / 1e6) * TICKS_PER_SECOND);
  let list = 'ffconcat version 1.0\n';
  for (const [i, f] of frames.entries()) {
    const ev = (await j.event(f.seq)).frame!;
    const png = await readChunked(j, buf(ev.chunkAddrs), buf(ev.contentHash), `frame ${f.frame}`);
    const name = `f${String(i).padStart(8, '0')}.png`;
    await writeFile(join(dir, name), png);
    const next = frames[i + 1];
    // A frame lasts until the next one; the last one a tick. At least a tick each (frames recorded in the same millisecond).
    const ticks = next ? Math.max(1, tick(next.timeUs) - tick(f.timeUs)) : 1;
    list += `file ${name}\noption framerate ${TICKS_PER_SECOND}\nduration ${(ticks / TICKS_PER_SECOND).toFixed(3)}\n`;
  }
  await writeFile(join(dir, 'list.ffconcat'), list);
  const last = frames[frames.length - 1]!;
  const clip = await audioInRange(j, frames[0]!.seq + 1, last.seq);
  if (clip) await writeFile(join(dir, 'audio.wav'), wavBytes(clip));
  const file = `frames.${opts.format}`;
  await runTool('ffmpeg', [
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    join(dir, 'list.ffconcat'),
    ...(clip ? ['-i', join(dir, 'audio.wav'), '-map', '0:v', '-map', '1:a'] : []),
    '-fps_mode',
    'passthrough',
    '-vf',
    EVEN_SIZE,
    ...CODECS[opts.format],
    ...(clip ? AUDIO_CODECS[opts.format] : []),
    join(opts.outDir, file),
  ]);
  return {
    file,
    format: opts.format,
    firstFrame: frames[0]!.frame,
    lastFrame: last.frame,
    count: frames.length,
    since: frames[0]!.time,
    until: last.time,
    durationSeconds: (last.timeUs - t0) / 1e6,
    audio: clip && { events: clip.chunks.length, samples: clip.samples, seconds: clip.samples / clip.sampleRate, sampleRate: clip.sampleRate, channels: clip.channels },
  };
}

/** The seq a span boundary stands for: a frame point's own frame, any other point's seq. */
async function frameSeq(j: Journal, point: string): Promise<number> {
  const rp = await resolvePoint(j, point);
  return rp.frame?.seq ?? rp.seq;
}
