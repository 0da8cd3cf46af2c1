import { crc32 } from 'node:zlib';
import { ErrorCodes, TtjError } from '../errors.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Length, type and CRC around each chunk's data. */
const CHUNK_OVERHEAD = 12;
const IHDR_LENGTH = 13;

/**
 * Checks that `data` is a whole PNG image and returns its size: the signature, then
 * chunks whose CRCs hold, IHDR first (13 bytes, non-zero size), at least one IDAT,
 * and IEND last, ending the data (a PNG cut short or with bytes after IEND is refused).
 * The pixels themselves are not decoded.
 * @throws TtjError NOT_PNG.
 */
export function pngInfo(data: Buffer, name = 'frame'): { width: number; height: number } {
  const bad = (why: string) => new TtjError(ErrorCodes.NOT_PNG, `${name} is not a PNG image: ${why}`, { path: name });
  if (data.length < SIGNATURE.length || !data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw bad('no PNG signature');
  let width = 0;
  let height = 0;
  let idat = false;
  let pos = SIGNATURE.length;
  for (let index = 0; ; index++) {
    if (pos + CHUNK_OVERHEAD > data.length) throw bad(`cut short at byte ${pos} (no IEND)`);
    const length = data.readUInt32BE(pos);
    const type = data.toString('latin1', pos + 4, pos + 8);
    const end = pos + CHUNK_OVERHEAD + length;
    if (length > 0x7fffffff || end > data.length) throw bad(`chunk ${type} at byte ${pos} runs past the end`);
    if (crc32(data.subarray(pos + 4, end - 4)) !== data.readUInt32BE(end - 4)) throw bad(`chunk ${type} at byte ${pos} fails its CRC`);
    if (index === 0) {
      if (type !== 'IHDR' || length !== IHDR_LENGTH) throw bad('IHDR is not the first chunk');
      width = data.readUInt32BE(pos + 8);
      height = data.readUInt32BE(pos + 12);
      if (width === 0 || height === 0) throw bad(`size ${width}x${height}`);
    } else if (type === 'IHDR') throw bad('a second IHDR');
    if (type === 'IDAT') idat = true;
    pos = end;
    if (type === 'IEND') break;
  }
  if (!idat) throw bad('no IDAT chunk');
  if (pos !== data.length) throw bad(`${data.length - pos} bytes after IEND`);
  return { width, height };
}
