import assert from 'node:assert/strict';
import { encodePng, parsePpm } from '../../../src/capture/qemu/screen-image.js';
import { ErrorCodes, isTtjError } from '../../../src/errors.js';
import { pngInfo } from '../../../src/journal/png.js';
import { pngPixels } from '../../helpers/decode-png.js';
import { rng } from '../../helpers/images.js';

const ppm = (w: number, h: number, rgb: Buffer, header = `P6\n${w} ${h}\n255\n`) => Buffer.concat([Buffer.from(header, 'latin1'), rgb]);

describe('screen images (QEMU PPM screendumps encoded as PNG)', () => {
  it('encodes random pixels losslessly as an RGB PNG that ttj accepts as a frame', async () => {
    const r = rng(7);
    const [w, h] = [37, 23];
    const rgb = Buffer.from(Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256)));
    const s = parsePpm(ppm(w, h, rgb, `P6\n# a comment\n${w}  ${h}\n255\n`));
    assert.deepEqual([s.width, s.height], [w, h]);
    const png = await encodePng(s);
    assert.deepEqual(pngInfo(png), { width: w, height: h });
    const rgba = pngPixels(png).rgba;
    const opaque = Buffer.alloc(w * h * 4, 255);
    for (let i = 0; i < w * h; i++) rgb.copy(opaque, i * 4, i * 3, i * 3 + 3);
    assert.deepEqual(Buffer.from(rgba), opaque);
    assert.ok(png.equals(await encodePng(s)), 'the same pixels give the same bytes');
  });

  it('refuses what is not a whole binary PPM of 8-bit pixels', () => {
    const rgb = Buffer.alloc(2 * 2 * 3, 9);
    for (const bad of [Buffer.from('P5\n2 2\n255\n'), ppm(2, 2, rgb.subarray(1)), ppm(2, 2, rgb, 'P6\n2 2\n65535\n'), ppm(0, 2, Buffer.alloc(0)), Buffer.alloc(0)]) {
      assert.throws(
        () => parsePpm(bad),
        (e) => isTtjError(e, ErrorCodes.QEMU_FAILED),
      );
    }
  });
});
