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
