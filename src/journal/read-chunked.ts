import { ErrorCodes, TtjError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { splitAddrs } from './chunks.js';
import type { Journal } from './journal.js';

/** Reads chunked content (device state, frames, audio) and checks its whole hash. */
export async function readChunked(j: Journal, chunkAddrs: Buffer, contentHash: Buffer, what: string): Promise<Buffer> {
  const data = Buffer.concat(await j.blobs(splitAddrs(chunkAddrs)));
  if (!sha256(data).equals(contentHash)) throw new TtjError(ErrorCodes.CORRUPT_BLOB, `${what} does not hash to its recorded content hash`, { expected: contentHash.toString('hex') });
  return data;
}
