import { crc32, deflate } from 'node:zlib';
import { promisify } from 'node:util';
import { ErrorCodes, TtjError } from '../../errors.js';

const deflateAsync = promisify(deflate);

/** A screen as QEMU's `screendump` writes it by default: 8-bit RGB pixels, row by row. */
export interface ScreenPixels {
  width: number;
  height: number;
  /** width × height × 3 bytes. */
  rgb: Buffer;
}

/**
 * Parses a binary PPM (`P6`, maxval 255), the format of QEMU's `screendump` without a
 * format argument. QEMU writes it without compressing, so taking it is cheap for QEMU's
 * main loop (a few ms), which matters while the VM is paused for an epoch.
 * @throws TtjError QEMU_FAILED when the file is not such a PPM.
 */
export function parsePpm(data: Buffer): ScreenPixels {
  const bad = (why: string) => new TtjError(ErrorCodes.QEMU_FAILED, `QEMU's screendump is not a binary PPM: ${why}`);
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < data.length && /\s/.test(String.fromCharCode(data[pos]!))) pos++;
      if (data[pos] !== 0x23) break; // '#': a comment to the end of the line
      while (pos < data.length && data[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < data.length && !/\s/.test(String.fromCharCode(data[pos]!))) pos++;
    return data.toString('latin1', start, pos);
  };
  if (token() !== 'P6') throw bad('no P6 magic');
  const [width, height, maxval] = [Number(token()), Number(token()), Number(token())];
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw bad(`size ${width}x${height}`);
  if (maxval !== 255) throw bad(`maxval ${maxval}`);
  pos++; // the single whitespace byte after maxval
  const rgb = data.subarray(pos);
  if (rgb.length !== width * height * 3) throw bad(`${rgb.length} bytes of pixels for ${width}x${height}`);
  return { width, height, rgb };
}

/** One PNG chunk: length, type, data, CRC of type and data. */
function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encodes a screen as a PNG (8-bit RGB, no interlace, each row filtered `Up`, zlib level 6
 * in the thread pool). The same pixels always give the same bytes, so a frame recorded
 * and a frame taken of the restored VM compare equal byte for byte when the screens do.
 */
export async function encodePng(s: ScreenPixels): Promise<Buffer> {
  const stride = s.width * 3;
  const filtered = Buffer.allocUnsafe((stride + 1) * s.height);
  for (let y = 0; y < s.height; y++) {
    const row = s.rgb.subarray(y * stride, (y + 1) * stride);
    const o = y * (stride + 1);
    if (y === 0) {
      filtered[o] = 0; // None
      row.copy(filtered, o + 1);
      continue;
    }
    filtered[o] = 2; // Up: the byte minus the byte above it
    const above = y * stride - stride;
    for (let x = 0; x < stride; x++) filtered[o + 1 + x] = (row[x]! - s.rgb[above + x]!) & 0xff;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(s.width, 0);
  ihdr.writeUInt32BE(s.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', await deflateAsync(filtered)), chunk('IEND', Buffer.alloc(0))]);
}
