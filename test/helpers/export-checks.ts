/** Independent checks of exported files: readelf, qemu-img, ffprobe, and a LiME reader. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** `readelf -h -l -n FILE`'s output (binutils). */
export function readelf(file: string): string {
  return execFileSync('readelf', ['-W', '-h', '-l', '-n', file], { encoding: 'utf8' });
}

/** `qemu-img info --output=json FILE`. */
export function qemuImgInfo(file: string): { format: string; 'virtual-size': number } {
  return JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
}

/** `qemu-img compare` of two images (formats probed); true when their guest-visible contents are equal. */
export function qemuImgSame(a: string, aFormat: string, b: string, bFormat: string): boolean {
  try {
    execFileSync('qemu-img', ['compare', '-q', '-f', aFormat, '-F', bFormat, a, b]);
    return true;
  } catch {
    return false;
  }
}

/** ffprobe's decoded frame count and the container's duration (seconds). */
export function ffprobe(file: string): { frames: number; duration: number; codec: string } {
  const out = JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,codec_name:format=duration', '-of', 'json', file], { encoding: 'utf8' }),
  ) as { streams: { nb_read_frames: string; codec_name: string }[]; format: { duration: string } };
  return { frames: Number(out.streams[0]!.nb_read_frames), duration: Number(out.format.duration), codec: out.streams[0]!.codec_name };
}

/** The ranges of a LiME file: header fields and bytes. */
export function readLime(file: string): { magic: number; version: number; start: number; end: number; data: Buffer }[] {
  const b = readFileSync(file);
  const ranges = [];
  for (let o = 0; o < b.length;) {
    const start = Number(b.readBigUInt64LE(o + 8));
    const end = Number(b.readBigUInt64LE(o + 16));
    ranges.push({ magic: b.readUInt32LE(o), version: b.readUInt32LE(o + 4), start, end, data: b.subarray(o + 32, o + 32 + end - start + 1) });
    o += 32 + end - start + 1;
  }
  return ranges;
}

/** Hex SHA-256 of a file. */
export function fileSha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The audio stream of a video file (ffprobe): its codec, sample rate and channels; undefined when it has none. */
export function ffprobeAudio(file: string): { codec: string; sampleRate: number; channels: number } | undefined {
  const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'json', file], { encoding: 'utf8' })) as {
    streams: { codec_name: string; sample_rate: string; channels: number }[];
  };
  const s = out.streams[0];
  return s && { codec: s.codec_name, sampleRate: Number(s.sample_rate), channels: s.channels };
}

/** The first audio stream of a video file decoded by ffmpeg: mono signed 16-bit samples at `rate` Hz. */
export function decodeAudio(file: string, rate: number): number[] {
  const pcm = execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-map', '0:a:0', '-ac', '1', '-ar', String(rate), '-f', 's16le', '-'], { maxBuffer: 256 << 20 });
  const out: number[] = [];
  for (let i = 0; i + 2 <= pcm.length; i += 2) out.push(pcm.readInt16LE(i));
  return out;
}
