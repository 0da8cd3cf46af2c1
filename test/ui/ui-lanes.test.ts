/**
 * The web timeline's pause lane, verification panel and sound after a scrub, in a real
 * browser (Chromium): the lane's values are `ttj log --json`'s, an older journal's pause
 * shows "not recorded"; the panel says a good journal verifies (and keeps up as it grows),
 * a tampered one fails with its code, the deep check re-hashes a point's blobs; the sound
 * starts again from the frame a scrub selects while playing, and stops on pause.
 */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import type { Page } from 'playwright-core';
import { ErrorCodes } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { decodeEvent, encodeEvent } from '../../src/journal/codec.js';
import { generateKeyFiles, loadSigningKey, loadTrustedKey } from '../../src/journal/signing-key.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import type { SoundState } from '../../src/ui/page/sound.js';
import type { PointVerification } from '../../src/ui/verify-service.js';
import { useBrowser } from '../helpers/browser.js';
import { memoryImage, png } from '../helpers/images.js';
import { makeFramesJournal } from '../helpers/frames-journal.js';
import { repoRoot, startTtj, ttjAsync } from '../helpers/run-ttj.js';
import { sineS16 } from '../helpers/tone.js';
import { useTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const PS = 4096;
const fixture = join(repoRoot, 'test', 'fixtures', 'journal-0.1.0', 'journal');

/** `epochs` epochs of 16 pages, two frames each; epoch e carries a pause of `pause(e)` µs (undefined: none). */
async function pauseJournal(dir: string, epochs: number, pause: (e: number) => number | undefined, opts: Parameters<typeof JournalWriter.openWriter>[1] = {}): Promise<void> {
  const w = await JournalWriter.openWriter(dir, opts);
  try {
    const mem = memoryImage(16, PS, 3);
    for (let e = 0; e < epochs; e++) {
      mem.writeUInt32LE(e + 1, (e % 16) * PS);
      await appendImages(w, { memory: Buffer.from(mem), frames: [png(32, 24, 2 * e), png(32, 24, 2 * e + 1)], pauseUs: pause(e) });
    }
  } finally {
    await w.close();
  }
}

/** The pause lane's bars: each epoch's value as the page has it (undefined: "not recorded"). */
async function pauseBars(page: Page): Promise<(number | undefined)[]> {
  const lane = page.locator('.lane[data-lane=pause]');
  await lane.waitFor();
  return lane.locator('rect.bar').evaluateAll((rects) => rects.map((r) => (r.getAttribute('data-value') === '' ? undefined : Number(r.getAttribute('data-value')))));
}

const verification = (page: Page) => page.locator('#verification');

/** Selects frame `n` with the scrubber and waits until the panel's verification is about it and settled. */
async function verifiedAt(page: Page, n: number, want: (status: string) => boolean = (s) => s !== 'loading' && s !== 'pending'): Promise<string> {
  await page.locator('#scrubber').fill(String(n));
  let status = '';
  await waitFor(
    async () => {
      const v = verification(page);
      status = (await v.getAttribute('data-status')) ?? '';
      return (await v.getAttribute('data-at')) === `frame:${n}` && want(status);
    },
    30000,
    `the verification of frame ${n}`,
  );
  return status;
}

/** Clicks "Verify deep" and waits for its result: [state, code]. */
async function verifyDeep(page: Page): Promise<[string, string]> {
  await page.locator('#verify-deep').click();
  const s = page.locator('#verify-deep-status');
  await waitFor(async () => ['ok', 'failed'].includes((await s.getAttribute('data-state')) ?? ''), 60000, 'the deep check');
  return [(await s.getAttribute('data-state'))!, (await s.getAttribute('data-code'))!];
}

describe('ttj ui: pause lane, verification, sound after a scrub (Chromium)', function () {
  this.timeout(180000);
  const tmp = useTmp();
  const b = useBrowser();
  let server: UiServer | undefined;
  let page: Page | undefined;

  async function open(dir: string, opts: Parameters<typeof startUiServer>[1] = {}): Promise<Page> {
    server = await startUiServer(dir, opts);
    page = await b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    await page.locator('#frame').waitFor();
    return page;
  }

  afterEach(async () => {
    await page?.close();
    await server?.close();
    page = undefined;
    server = undefined;
  });

  it('the pause lane shows each epoch pause as ttj log --json has it, "not recorded" where there is none', async () => {
    const J = tmp.path('p');
    await pauseJournal(J, 6, (e) => (e % 3 === 1 ? undefined : 1000 * (e + 1) + 7));
    const l = (await ttjAsync('log', J, '--json')).json as { epochs: { pauseUs?: number }[] };
    const p = await open(J);
    const bars = await pauseBars(p);
    assert.deepEqual(
      bars,
      l.epochs.map((e) => e.pauseUs),
    );
    assert.equal(bars.filter((x) => x === undefined).length, 2);
    assert.equal(await p.locator('.lane[data-lane=pause]').getAttribute('data-not-recorded'), '2');
    assert.match((await p.locator('.lane[data-lane=pause] rect.bar.none title').first().textContent()) ?? '', /not recorded/);
  });

  it('a journal written by ttj 0.1.0: every pause "not recorded", and it verifies', async () => {
    const J = tmp.path('old');
    cpSync(fixture, J, { recursive: true });
    const p = await open(J);
    assert.deepEqual(await pauseBars(p), [undefined, undefined, undefined]);
    assert.match((await p.locator('.lane[data-lane=pause] .lane-title').textContent()) ?? '', /not recorded/);
    assert.equal(await verifiedAt(p, 2), 'ok');
  });

  it('a good journal verifies at every point, keeps verifying as it grows, and a deep check of a point passes', async () => {
    const J = tmp.path('good');
    await makeFramesJournal(J, tmp.dir, { epochs: 4, framesPerEpoch: 2 });
    const p = await open(J);
    assert.equal(await verifiedAt(p, 0), 'ok');
    assert.equal(await verifiedAt(p, 7), 'ok');
    assert.equal(await verification(p).getAttribute('data-signatures'), 'unsigned');
    assert.match((await p.locator('.verify-chain').textContent()) ?? '', /verify up to seq/);
    assert.deepEqual(await verifyDeep(p), ['ok', '']);
    assert.match((await p.locator('#verify-deep-status').textContent()) ?? '', /blobs .* re-read and re-hashed/);
    // Appended by another process: the server's verify extends to the new head.
    await makeFramesJournal(J, tmp.dir, { epochs: 6, framesPerEpoch: 2, firstEpoch: 4 });
    await waitFor(async () => Number(await p.locator('#counts').getAttribute('data-frames')) === 12, 20000, 'the new frames');
    assert.equal(await verifiedAt(p, 11), 'ok');
    const head = (await ttjAsync('log', J, '--json')).json.head.seq as number;
    await waitFor(async () => Number(await verification(p).getAttribute('data-verified-seq')) === head, 20000, 'the verify to reach the new head');
  });

  it('a changed event: the points after it fail with TTJ_CORRUPT_EVENT, those before it verify', async () => {
    const J = tmp.path('tampered');
    await pauseJournal(J, 4, () => undefined);
    // Event 9 (in epoch 1) changed so that it still decodes: the chain breaks there.
    const db = new Level<string, Buffer>(join(J, 'index'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const key = 'e/' + (9).toString(16).padStart(14, '0');
    const ev = decodeEvent((await db.get(key))!, 9);
    ev.timeUs = Number(ev.timeUs) + 1;
    await db.put(key, Buffer.from(encodeEvent(ev)));
    await db.close();
    const p = await open(J);
    assert.equal(await verifiedAt(p, 7), 'failed');
    assert.equal(await verification(p).getAttribute('data-code'), ErrorCodes.CORRUPT_EVENT);
    assert.match((await p.locator('.verify-chain').textContent()) ?? '', /TTJ_CORRUPT_EVENT/);
    assert.equal(await verifiedAt(p, 0, (s) => s !== 'loading'), 'ok', 'frame 0 comes before the changed event');
  });

  it('a byte flipped in a pack file: the deep check of a point that needs it fails with TTJ_CORRUPT_BLOB', async () => {
    const J = tmp.path('flipped');
    await pauseJournal(J, 2, () => undefined);
    const packs = readdirSync(join(J, 'packs')).sort();
    const f = join(J, 'packs', packs[0]!);
    const bytes = readFileSync(f);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(f, bytes);
    const p = await open(J);
    await verifiedAt(p, 3);
    const [state, code] = await verifyDeep(p);
    assert.equal(state, 'failed');
    assert.equal(code, ErrorCodes.CORRUPT_BLOB);
    assert.match((await p.locator('#verify-deep-status').textContent()) ?? '', /TTJ_CORRUPT_BLOB/);
  });

  it('a signed journal: with --trust its signatures check out, without they are shown as not checked', async () => {
    const J = tmp.path('signed');
    const k = await generateKeyFiles(tmp.path('k.key'));
    await pauseJournal(J, 3, () => undefined, { signWith: await loadSigningKey(k.privateKey) });
    let p = await open(J, { trust: await loadTrustedKey(k.publicKey) });
    assert.equal(await verifiedAt(p, 5), 'ok');
    assert.equal(await verification(p).getAttribute('data-signatures'), 'ok');
    await page!.close();
    await server!.close();
    p = await open(J);
    assert.equal(await verifiedAt(p, 5), 'ok');
    assert.equal(await verification(p).getAttribute('data-signatures'), 'unchecked');
    const other = await generateKeyFiles(tmp.path('other.key'));
    await page!.close();
    await server!.close();
    p = await open(J, { trust: await loadTrustedKey(other.publicKey) });
    await verifiedAt(p, 5, (s) => s === 'failed');
    assert.equal(await verification(p).getAttribute('data-code'), ErrorCodes.BAD_SIGNATURE);
    assert.equal(await verification(p).getAttribute('data-signatures'), 'failed');
  });

  it('ttj ui --trust (as a command): GET /api/verify says the signatures check out; POST starts a deep check; a bad point is 404, a key that is not one TTJ_BAD_ARGUMENT', async () => {
    const J = tmp.path('cli');
    const k = await generateKeyFiles(tmp.path('cli.key'));
    await pauseJournal(J, 2, () => 1234, { signWith: await loadSigningKey(k.privateKey) });
    const proc = startTtj(['ui', J, '--trust', k.publicKey, '--json']);
    try {
      const info = await proc.firstJson<{ url: string; pid: number }>();
      const api = (path: string) => new URL(`${path}${path.includes('?') ? '&' : '?'}token=${new URL(info.url).searchParams.get('token')}`, info.url);
      let v: PointVerification | undefined;
      await waitFor(
        async () => {
          v = (await (await fetch(api('/api/verify?at=frame:3'))).json()) as PointVerification;
          return v.status !== 'pending' && !v.journal.running;
        },
        30000,
        'the verify',
      );
      assert.equal(v!.status, 'ok', JSON.stringify(v));
      assert.equal(v!.signatures.status, 'ok');
      assert.equal(v!.signatures.trusted, k.fingerprint);
      assert.equal(v!.frame, 3);
      const started = (await (await fetch(api('/api/verify'), { method: 'POST', body: JSON.stringify({ at: 'frame:3' }) })).json()) as PointVerification;
      assert.ok(started.deep, JSON.stringify(started));
      await waitFor(async () => ((await (await fetch(api('/api/verify?at=frame:3'))).json()) as PointVerification).deep?.state === 'ok', 30000, 'the deep check');
      const missing = await fetch(api('/api/verify?at=frame:99'));
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, ErrorCodes.POINT_NOT_FOUND);
    } finally {
      process.kill((await proc.firstJson<{ pid: number }>()).pid, 'SIGTERM');
      assert.equal((await proc.done).code, 0);
    }
    writeFileSync(tmp.path('not-a-key.pem'), 'not a key\n');
    const bad = await ttjAsync('ui', J, '--trust', tmp.path('not-a-key.pem'), '--json');
    assert.notEqual(bad.code, 0);
    assert.equal(bad.json.error.code, ErrorCodes.BAD_ARGUMENT);
  });

  it('the sound starts again from the frame a scrub selects while playing, and stops on pause', async () => {
    const J = tmp.path('sound');
    const RATE = 8000;
    const FRAMES = 40;
    const STEP_MS = 100;
    const w = await JournalWriter.openWriter(J);
    try {
      await appendImages(w, { memory: memoryImage(8, PS, 1), frames: [png(32, 24, 0)] });
      for (let k = 1; k < FRAMES; k++) {
        await new Promise((r) => setTimeout(r, STEP_MS));
        const pcm = sineS16(440, RATE, STEP_MS / 1000);
        await appendImages(w, { audio: [{ pcm, firstSample: ((k - 1) * pcm.length) / 2, sampleRate: RATE, channels: 1, format: 's16le' }], frames: [png(32, 24, k)] });
      }
    } finally {
      await w.close();
    }
    const frames = (await ttjAsync('log', J, '--json')).json.frames as { frame: number; timeUs: number }[];
    const p = await open(J);
    const sound = () => p.evaluate(() => (window as unknown as { ttjSound: () => SoundState }).ttjSound());
    await p.locator('#play').click();
    await waitFor(async () => (await sound()).playing && ((await sound()).currentTime ?? 0) > 0, 20000, 'the sound to play');
    assert.equal((await sound()).startFrame, 0);
    // Scrub while playing: the clip starts again at the selected frame, in step with the frames.
    const target = 25;
    await p.locator('#scrubber').fill(String(target));
    await waitFor(async () => (await sound()).startFrame === target && (await sound()).playing, 10000, `the sound to start again at frame ${target}`);
    const s = await sound();
    assert.equal(s.startUs, frames[target]!.timeUs, 'the clip starts at the selected frame time');
    // Where the sound is, in the recording's time, against the frame shown now.
    const { shown, at } = await p.evaluate(() => {
      const st = (window as unknown as { ttjSound: () => SoundState }).ttjSound();
      return { shown: Number(document.getElementById('frame')!.dataset.frame), at: st.startUs! + st.currentTime! * 1e6 };
    });
    assert.ok(Math.abs(at - frames[shown]!.timeUs) < 300_000, `sound at ${at}, frame ${shown} at ${frames[shown]!.timeUs}`);
    await p.locator('#play').click();
    assert.equal(await p.locator('#play').getAttribute('data-playing'), 'false');
    assert.equal((await sound()).playing, false, 'pausing stops the sound');
    // A scrub while paused plays nothing.
    await p.locator('#scrubber').fill('5');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await sound()).playing, false);
  });
});
