import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { useBrowser } from '../helpers/browser.js';
import { pngPixels } from '../helpers/decode-png.js';
import { startTtj, ttjAsync } from '../helpers/run-ttj.js';
import { useShmTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { withJournal } from '../helpers/with-journal.js';

/** The boot-sector guest's VGA text screen: 9x16 pixel cells; row 0 "TTJ cccccccc", the big counter on rows 10..14. */
const CELL_W = 9;
const CELL_H = 16;

/** The pixels (RGBA) noVNC's canvas shows. */
function vncPixels(page: Page): Promise<{ width: number; height: number; rgba: number[] }> {
  return page.evaluate(() => {
    const c = document.querySelector('#vm-screen canvas') as HTMLCanvasElement;
    return { width: c.width, height: c.height, rgba: [...c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data] };
  });
}

type Pixels = { width: number; rgba: ArrayLike<number> };
/** Pixels of `a` and `b` that differ within rows [y0, y1) and columns [x0, x1). */
function differing(a: Pixels, b: Pixels, y0: number, y1: number, x0 = 0, x1 = a.width): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const i = (y * a.width + x) * 4;
      if (a.rgba[i] !== b.rgba[i] || a.rgba[i + 1] !== b.rgba[i + 1] || a.rgba[i + 2] !== b.rgba[i + 2]) n++;
    }
  return n;
}

const counts = async (page: Page) => Number(await page.locator('#counts').getAttribute('data-frames'));

describe('ttj ui on a live recording, and a VM restored from the page with noVNC (boot-sector guest) @slow', function () {
  this.timeout(240000);
  const tmp = useShmTmp();
  const b = useBrowser();
  let server: UiServer | undefined;
  let page: Page | undefined;

  afterEach(async () => {
    await page?.close();
    await server?.close();
  });

  it('frames of a running ttj record appear; restore here shows the restored screen, which runs on; stop removes the VM', async () => {
    const image = ensureBootSectorGuest();
    const J = tmp.path('vm.ttj');
    const rec = startTtj(['record', J, '--memory', '32M', '--disk', `boot=${image}`, '--interval', '250ms', '--fps', '4', '--duration', '90s']);
    await waitFor(async () => (await Journal.exists(J)) && (await withJournal(J, (j) => j.head())).epoch >= 1, 60000, 'the first epochs recorded');
    server = await startUiServer(J);
    page = await b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    await page.locator('#frame').waitFor();
    const first = await counts(page);
    await waitFor(async () => (await counts(page!)) >= first + 8, 60000, 'frames of the live recording on the page');
    await waitFor(async () => (await withJournal(J, (j) => j.head())).epoch >= 12, 90000, 'a dozen epochs');
    const r = await rec.stop();
    assert.equal(r.code, 0, r.stderr);
    const l = (await ttjAsync('log', J, '--json')).json;
    await waitFor(async () => (await counts(page!)) === l.frames.length, 10000, 'the page to show every frame ttj log lists');

    // The first frame after an epoch's commit is the screen of that epoch's pause: the state restored there.
    const epoch = l.epochs[Math.floor(l.epochs.length * 0.7)];
    const frame = l.frames.find((f: { epoch: number; seq: number }) => f.epoch === epoch.epoch && f.seq > epoch.seq).frame as number;
    await page.locator('#scrubber').fill(String(frame));
    assert.equal(await page.locator('[data-field=epoch]').textContent(), String(epoch.epoch));
    await page.locator('#restore').click();
    await page.locator('#vm-screen[data-state=connected]').waitFor({ timeout: 60000 });
    const vm = ((await (await fetch(new URL(`/api/vm?token=${server.token}`, server.url))).json()) as { vm: { pid: number; epoch: number; frame: number } }).vm;
    assert.deepEqual([vm.epoch, vm.frame], [epoch.epoch, frame]);

    const out = tmp.path('fold');
    await withJournal(J, (j) => fold(j, { at: `frame:${frame}`, out }));
    const recorded = pngPixels(readFileSync(`${out}/frame.png`));
    // noVNC has drawn the guest's screen once row 0's "TTJ " is there, as recorded.
    const shown = (await waitFor(
      async () => {
        const p = await vncPixels(page!);
        return p.width === recorded.width && differing(p, recorded, 0, CELL_H, 0, 4 * CELL_W) === 0 ? p : undefined;
      },
      30000,
      "the restored guest's screen in noVNC",
    ))!;
    assert.equal(shown.height, recorded.height);
    // Everything but the counter (row 0's digits, rows 10..14) is the recorded screen, allowing for the text cursor.
    const rest = differing(shown, recorded, CELL_H, 10 * CELL_H) + differing(shown, recorded, 15 * CELL_H, recorded.height);
    assert.ok(rest <= 2 * CELL_W * CELL_H, `${rest} pixels outside the counter differ from frame ${frame}`);
    // It runs on: the big counter changes on the live screen.
    const at = (p: Pixels) => Buffer.from(Array.from(p.rgba).slice(10 * CELL_H * p.width * 4, 15 * CELL_H * p.width * 4));
    const t0 = at(shown);
    await waitFor(async () => !at(await vncPixels(page!)).equals(t0), 30000, 'the counter to move on the restored screen');

    await page.locator('#stop-vm').click();
    await page.locator('#frame').waitFor({ timeout: 30000 });
    await waitFor(
      () => {
        try {
          process.kill(vm.pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      30000,
      'QEMU to exit',
    );
    const after = (await (await fetch(new URL(`/api/vm?token=${server.token}`, server.url))).json()) as { vm: unknown };
    assert.equal(after.vm, null);
  });
});
