import type { ServerResponse } from 'node:http';
import { ErrorCodes, TtjError } from '../errors.js';
import { audioBetween, wavBytes } from '../journal/audio.js';
import type { Journal } from '../journal/journal.js';

/** A frame number from the query. @throws TtjError BAD_ARGUMENT. */
function frameParam(url: URL, name: string): number {
  const v = url.searchParams.get(name);
  const n = v === null ? NaN : Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the request needs ?${name}=FRAME (a frame number)`, { actual: v ?? '' });
  return n;
}

/**
 * `GET /api/audio?from=F&to=G`: the sound the guest played between frames F and G (the
 * library's `audioBetween`) as a WAV file, or 204 when none was recorded there. The page
 * plays it from the frame where playing starts, beside the frames.
 * @throws TtjError BAD_ARGUMENT, POINT_NOT_FOUND (no such frame).
 */
export async function sendAudio(j: Journal, url: URL, res: ServerResponse): Promise<void> {
  const clip = await audioBetween(j, frameParam(url, 'from'), frameParam(url, 'to'));
  if (!clip) {
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
    return;
  }
  const wav = wavBytes(clip);
  // What was recorded between two frames never changes.
  res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length, 'cache-control': 'private, max-age=31536000, immutable' });
  res.end(wav);
}
