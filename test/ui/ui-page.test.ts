import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { diff } from '../../src/journal/diff.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { useBrowser } from '../helpers/browser.js';
import { pngPixels } from '../helpers/decode-png.js';
import { png } from '../helpers/images.js';
import { makeFramesJournal } from '../helpers/frames-journal.js';
import { startTtj, ttj, ttjAsync } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { withJournal } from '../helpers/with-journal.js';

const EPOCHS = 8;
const FRAMES_PER_EPOCH = 3;

/** The pixels (RGBA) of the image the page shows, read back through a canvas. */
async function shownPixels(page: Page): Promise<{ frame: number; width: number; height: number; rgba: number[] }> {
  return page.evaluate(async () => {
    const img = document.getElementById('frame') as HTMLImageElement;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    return { frame: Number(img.dataset.frame), width: c.width, height: c.height, rgba: [...ctx.getImageData(0, 0, c.width, c.height).data] };
  });
}

/** The frame the page shows. */
const shownFrame = (page: Page) => page.locator('#frame').getAttribute('data-frame').then(Number);

describe('ttj ui: the web timeline in a real browser (Chromium)', function () {
  this.timeout(120000);
  const tmp = useTmp();
  const b = useBrowser();
  let J: string;
  let server: UiServer;
  let page: Page;

  beforeEach(async () => {
    J = tmp.path('vm.ttj');
    await makeFramesJournal(J, tmp.dir, { epochs: EPOCHS, framesPerEpoch: FRAMES_PER_EPOCH, labels: { 3: 'before upgrade' } });
    server = await startUiServer(J);
    page = await b.browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    await page.locator('#frame').waitFor();
  });

  afterEach(async () => {
    await page?.close();
    await server?.close();
  });

  it('shows as many frames and epochs as ttj log, and the selected point as the index has it', async () => {
    const l = (await ttjAsync('log', J, '--json')).json;
    const counts = page.locator('#counts');
    assert.equal(Number(await counts.getAttribute('data-frames')), l.frames.length);
    assert.equal(Number(await counts.getAttribute('data-epochs')), l.epochs.length);
    assert.equal(await page.locator('#scrubber').getAttribute('max'), String(l.frames.length - 1));
    assert.equal(await page.locator('[data-field=stateRoot]').textContent(), l.epochs[0].stateRoot);
    assert.equal(await page.locator('.label-marker').textContent(), 'before upgrade');
    assert.equal(await page.locator('.epoch-marker').count(), EPOCHS);
    // The disk's lane: every byte the journal says was written to it, spread over the epochs.
    const d0 = l.disks.find((d: { disk: string }) => d.disk === 'd0');
    const lane = page.locator('.lane[data-lane="disk:d0"]');
    await lane.waitFor();
    assert.equal(Number(await lane.getAttribute('data-total')), d0.blocks * d0.blockSize);
    assert.ok(d0.blocks > 0);
  });

  it('scrubbing to frame N shows the journal frame N, pixel for pixel', async () => {
    for (const n of [7, 0, EPOCHS * FRAMES_PER_EPOCH - 1]) {
      await page.locator('#scrubber').fill(String(n));
      await waitFor(async () => (await shownFrame(page)) === n, 10000, `frame ${n} shown`);
      const out = tmp.path(`f${n}`);
      const m = await withJournal(J, (j) => fold(j, { at: `frame:${n}`, out }));
      const want = pngPixels(readFileSync(`${out}/frame.png`));
      const got = await shownPixels(page);
      assert.equal(got.frame, n);
      assert.deepEqual([got.width, got.height], [want.width, want.height]);
      assert.ok(Buffer.from(got.rgba).equals(Buffer.from(want.rgba)), `the pixels of frame ${n}`);
      assert.equal(await page.locator('[data-field=frame]').textContent(), String(n));
      assert.equal(await page.locator('[data-field=epoch]').textContent(), String(m.epoch));
    }
  });

  it('steps with the arrow keys and plays frames forward at the recorded speed', async () => {
    await page.locator('#scrubber').fill('4');
    await page.locator('body').click({ position: { x: 5, y: 700 } });
    await page.keyboard.press('ArrowRight');
    await waitFor(async () => (await shownFrame(page)) === 5, 10000, 'frame 5 after →');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await waitFor(async () => (await shownFrame(page)) === 3, 10000, 'frame 3 after ← ←');
    await page.locator('#play').click();
    assert.equal(await page.locator('#play').getAttribute('data-playing'), 'true');
    const last = EPOCHS * FRAMES_PER_EPOCH - 1;
    // The frames were appended within moments of each other: playback reaches the end and stops.
    await waitFor(async () => (await shownFrame(page)) === last, 30000, 'playback to reach the last frame');
    await waitFor(async () => (await page.locator('#play').getAttribute('data-playing')) === 'false', 10000, 'playback to stop at the end');
    await page.keyboard.press(' ');
    await waitFor(async () => (await shownFrame(page)) < last, 10000, 'space to play again from the start');
  });

  it('a range dragged over the lanes counts the epochs and frames ttj log lists between its ends and the changes ttj diff finds', async () => {
    const lane = page.locator('.lane[data-lane=dirty] svg');
    await lane.scrollIntoViewIfNeeded();
    const box = (await lane.boundingBox())!;
    const x = (e: number) => box.x + ((e + 0.5) * box.width) / EPOCHS;
    const [a, z] = [2, 6];
    await page.mouse.move(x(a), box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(x(z), box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const r = page.locator('#range-result');
    await waitFor(async () => (await r.getAttribute('data-changed-pages')) !== '', 20000, 'the range diff');
    const l = await withJournal(J, (j) => log(j, { since: `epoch:${a}`, until: `epoch:${z}` }));
    const d = await withJournal(J, (j) => diff(j, { a: `epoch:${a}`, b: `epoch:${z}` }));
    // As a subprocess while the server holds the index (a synchronous spawn would block the server it reads through).
    const cli = (await ttjAsync('diff', J, `epoch:${a}`, `epoch:${z}`, '--json')).json;
    assert.deepEqual(cli.memory.changedPages, d.memory!.changedPages);
    assert.deepEqual(
      {
        from: await r.getAttribute('data-from'),
        to: await r.getAttribute('data-to'),
        epochs: await r.getAttribute('data-epochs'),
        frames: await r.getAttribute('data-frames'),
        pages: await r.getAttribute('data-changed-pages'),
        blocks: await r.getAttribute('data-changed-blocks'),
      },
      {
        from: String(a),
        to: String(z),
        epochs: String(l.epochs.length),
        frames: String(l.frames.length),
        pages: String(d.memory!.changedPages),
        blocks: String(d.disks.reduce((s, x) => s + x.changedBlocks, 0)),
      },
    );
    assert.ok(d.memory!.changedPages > 0 && d.disks[0]!.changedBlocks > 0, 'the range changed memory and disk');
  });

  it('new frames and epochs appended by another process appear without a reload', async () => {
    await waitFor(async () => (await page.locator('#live').textContent())?.includes('live'), 10000, 'the live stream');
    const before = Number(await page.locator('#counts').getAttribute('data-frames'));
    const added = tmp.path('more.png');
    writeFileSync(added, png(64, 48, 999));
    writeFileSync(tmp.path('mem.raw'), Buffer.alloc(64 * 4096, 7));
    const r = await ttjAsync('append', J, '--memory', tmp.path('mem.raw'), '--frame', added, '--frame', added);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => Number(await page.locator('#counts').getAttribute('data-frames')) === before + 2, 10000, 'the new frames on the page');
    assert.equal(Number(await page.locator('#counts').getAttribute('data-epochs')), EPOCHS + 1);
    const l = (await ttjAsync('log', J, '--json')).json;
    assert.equal(l.frames.length, before + 2);
  });

  it("a live stream the browser resumes (Last-Event-ID) sends what came after that id, not from the URL's start again", async () => {
    const l = (await ttjAsync('log', J, '--json')).json;
    const seen = l.epochs[5].seq as number;
    const ctl = new AbortController();
    const res = await fetch(new URL(`/api/live?after=0&token=${server.token}`, server.url), { headers: { 'last-event-id': String(seen) }, signal: ctl.signal });
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (/\ndata: .*\n\n/.test(text)) break;
    }
    ctl.abort();
    const m = /id: (\d+)\nevent: commit\ndata: (.*)\n/.exec(text)!;
    const c = JSON.parse(m[2]!);
    assert.equal(c.fromSeq, seen + 1);
    assert.deepEqual(
      c.epochs.map((e: { epoch: number }) => e.epoch),
      [6, 7],
    );
    assert.equal(Number(m[1]), l.head.seq);
    assert.equal(c.head.seq, l.head.seq);
  });

  it('refuses a request without the token, or with another one (403)', async () => {
    const u = new URL(server.url);
    for (const path of ['/', '/api/timeline', '/api/frames/0.png', '/api/live', '/page.js']) {
      assert.equal((await fetch(`${u.origin}${path}`)).status, 403, path);
      assert.equal((await fetch(`${u.origin}${path}?token=${'x'.repeat(server.token.length)}`)).status, 403, path);
    }
    const ok = await fetch(`${u.origin}/api/timeline?token=${server.token}`);
    assert.equal(ok.status, 200);
    const missing = await fetch(`${u.origin}/api/frames/9999.png?token=${server.token}`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'TTJ_POINT_NOT_FOUND');
  });
});

describe('ttj ui as a command', function () {
  this.timeout(60000);
  const tmp = useTmp();

  it('--json prints {url, port, pid} once listening, serves the page, and stops on SIGTERM', async () => {
    const J = tmp.path('vm.ttj');
    await makeFramesJournal(J, tmp.dir, { epochs: 2, framesPerEpoch: 1 });
    const p = startTtj(['ui', J, '--json']);
    const info = await p.firstJson<{ url: string; port: number; pid: number }>();
    assert.match(info.url, new RegExp(`^http://127\\.0\\.0\\.1:${info.port}/\\?token=[A-Za-z0-9_-]{22}$`));
    const t = (await (await fetch(new URL('/api/timeline' + new URL(info.url).search, info.url))).json()) as { frames: unknown[] };
    assert.equal(t.frames.length, 2);
    assert.equal((await fetch(info.url)).status, 200);
    process.kill(info.pid, 'SIGTERM');
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
  });

  it('refuses a journal that is not there', async () => {
    const r = ttj(['ui', tmp.path('none.ttj'), '--json']);
    assert.notEqual(r.status, 0);
    assert.equal(r.json.error.code, 'TTJ_NOT_A_JOURNAL');
  });
});
