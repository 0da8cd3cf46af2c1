import { ErrorCodes, TtjError } from '../errors.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Checks that `data` is a PNG image (signature and IHDR chunk) and returns its size.
 * @throws TtjError NOT_PNG.
 */
export function pngInfo(data: Buffer, name = 'frame'): { width: number; height: number } {
  if (data.length < 33 || !data.subarray(0, 8).equals(SIGNATURE) || data.toString('latin1', 12, 16) !== 'IHDR') {
    throw new TtjError(ErrorCodes.NOT_PNG, `${name} is not a PNG image`, { path: name });
  }
  const width = data.readUInt32BE(16);
  const height = data.readUInt32BE(20);
  if (width === 0 || height === 0) throw new TtjError(ErrorCodes.NOT_PNG, `${name} is a PNG of size ${width}x${height}`, { path: name });
  return { width, height };
}
