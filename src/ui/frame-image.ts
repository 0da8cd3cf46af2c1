import type { ServerResponse } from 'node:http';
import { ErrorCodes, TtjError } from '../errors.js';
import { readChunked } from '../journal/read-chunked.js';
import type { Journal } from '../journal/journal.js';

/**
 * Sends frame `n`'s PNG as recorded (its bytes checked against the content hash).
 * A frame never changes, so it is cached by the browser for good (ETag: its hash):
 * the page scales it for thumbnails, each image fetched once and only when shown.
 * @throws TtjError POINT_NOT_FOUND for a frame the journal does not have.
 */
export async function sendFrame(j: Journal, n: number, res: ServerResponse, ifNoneMatch: string | undefined): Promise<void> {
  const entry = Number.isSafeInteger(n) && n >= 0 ? await j.frame(n) : undefined;
  if (!entry) throw new TtjError(ErrorCodes.POINT_NOT_FOUND, `the journal has no frame ${n}`, { point: `frame:${n}` });
  const f = (await j.event(entry.seq)).frame!;
  const hash = Buffer.from(f.contentHash ?? []);
  const etag = `"${hash.toString('hex')}"`;
  const headers = { etag, 'cache-control': 'private, max-age=31536000, immutable' };
  if (ifNoneMatch === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const png = await readChunked(j, Buffer.from(f.chunkAddrs ?? []), hash, `frame ${n}`);
  res.writeHead(200, { ...headers, 'content-type': 'image/png', 'content-length': png.length });
  res.end(png);
}
