/**
 * The panel's actions in a real browser (Chromium): "Label it" at a frame (the label lands
 * on that frame's epoch, as ttj log shows, also while a live writer holds the journal),
 * Fold and Export of the selected frame into the server's output directory (the files
 * equal `ttj fold`/`ttj export` of the same point), one job at a time, errors with codes.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { UiJobs } from '../../src/ui/jobs.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { useBrowser } from '../helpers/browser.js';
import { sha } from '../helpers/images.js';
import { makeFramesJournal } from '../helpers/frames-journal.js';
import { startTtj, ttjAsync } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';

const EPOCHS = 6;
const FPE = 3;

/** Selects frame `n` with the scrubber and waits until the page shows it. */
async function selectFrame(page: Page, n: number): Promise<void> {
  await page.locator('#scrubber').fill(String(n));
  await waitFor(async () => (await page.locator('[data-field=frame]').textContent()) === String(n), 10000, `frame ${n} selected`);
}

/** Types `text` into the label field and clicks "Label it". */
async function labelIt(page: Page, text: string): Promise<void> {
  await page.locator('#label-text').fill(text);
  await page.locator('#label-it').click();
}

/** Clicks `button` (Fold or Export) and waits for the job to end; returns its element's state and directory. */
async function runJob(page: Page, button: '#fold' | '#export'): Promise<{ state: string; dir: string }> {
  await page.locator(button).click();
  const job = page.locator('#job');
  const state = (await waitFor(
    async () => {
      const st = (await job.count()) ? await job.getAttribute('data-state') : null;
      return st === 'done' || st === 'failed' ? st : undefined;
    },
    120000,
    `the ${button} job to end`,
  )) as string;
  return { state, dir: (await job.getAttribute('data-dir')) ?? '' };
}

const fileSha = (p: string) => sha(readFileSync(p));

describe('ttj ui: Label it, Fold and Export from the panel (Chromium)', function () {
  this.timeout(240000);
  const tmp = useTmp();
  const b = useBrowser();
  let J: string;
  let server: UiServer | undefined;
  let page: Page | undefined;

  beforeEach(async () => {
    J = tmp.path('vm.ttj');
    await makeFramesJournal(J, tmp.dir, { epochs: EPOCHS, framesPerEpoch: FPE });
  });

  afterEach(async () => {
    await page?.close();
    await server?.close();
    page = undefined;
    server = undefined;
  });

  async function open(url: string): Promise<Page> {
    page = await b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    await page.locator('#frame').waitFor();
    return page;
  }

  it('"Label it" at frame N labels frame N\'s epoch (ttj log), shows it on the scrubber; an empty label shows its code', async () => {
    server = await startUiServer(J);
    const p = await open(server.url);
    const N = 10;
    await selectFrame(p, N);
    await labelIt(p, 'seen at ten');
    await waitFor(async () => (await p.locator('.label-marker').allTextContents()).includes('seen at ten'), 10000, 'the label on the scrubber');
    assert.equal(await p.locator('[data-field=label]').textContent(), 'seen at ten');
    const l = (await ttjAsync('log', J, '--json')).json;
    const epoch = l.frames[N].epoch;
    assert.equal(epoch, Math.floor(N / FPE));
    assert.deepEqual(
      l.epochs.map((e: { labels: string[] }) => e.labels),
      l.epochs.map((_: unknown, i: number) => (i === epoch ? ['seen at ten'] : [])),
    );
    // An earlier frame afterwards: its own epoch.
    await selectFrame(p, 1);
    await labelIt(p, 'first epoch');
    await waitFor(async () => (await p.locator('.label-marker').count()) === 2, 10000, 'the second label').catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}: ${await p.locator('#panel').textContent()}`);
    });
    assert.deepEqual((await ttjAsync('log', J, '--json')).json.epochs[0].labels, ['first epoch']);
    // An empty label: refused by the server, shown with its code.
    await labelIt(p, '   ');
    await waitFor(async () => (await p.locator('#label-note[data-ok=false]').count()) === 1, 10000, 'the error');
    assert.match((await p.locator('#label-note').textContent())!, /\[TTJ_BAD_ARGUMENT\]/);
  });

  it('labels through the live writer while another process writes the journal', async () => {
    // The server runs as `ttj ui` in its own process; this process holds the journal as `ttj record` does and appends.
    const ui = startTtj(['ui', J, '--json']);
    const info = await ui.firstJson<{ url: string; out: string }>();
    const w = await JournalWriter.openWriter(J, { create: false, command: 'test writer (as ttj record)' });
    let stop = false;
    let k = 0;
    const appending = (async () => {
      while (!stop) {
        await appendImages(w, { memory: Buffer.alloc(64 * 4096, ++k) });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const p = await open(info.url);
      await selectFrame(p, 4);
      await labelIt(p, 'while recording');
      await waitFor(async () => (await p.locator('#label-note').count()) === 1, 30000, 'the answer');
      assert.equal(await p.locator('#label-note').getAttribute('data-ok'), 'true', (await p.locator('#label-note').textContent()) ?? '');
      await waitFor(async () => (await p.locator('.label-marker').allTextContents()).includes('while recording'), 10000, 'the label on the scrubber');
      const label = await w.label('while recording');
      assert.equal(label?.epoch, 1);
    } finally {
      stop = true;
      await appending;
      await w.close();
      const r = await ui.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(k > 0);
    const l = (await ttjAsync('log', J, '--json')).json;
    assert.deepEqual(l.epochs[1].labels, ['while recording']);
  });

  it('Fold at frame N writes into the output directory what ttj fold --at frame:N writes; the page shows the directory and the manifest', async () => {
    const out = tmp.path('ui-out');
    server = await startUiServer(J, { out });
    const p = await open(server.url);
    const N = 8;
    await selectFrame(p, N);
    const job = await runJob(p, '#fold');
    assert.equal(job.state, 'done', (await p.locator('#job').textContent()) ?? '');
    assert.equal(job.dir, join(out, `fold-frame-${N}`));
    const ref = tmp.path('ref');
    const cli = await ttjAsync('fold', J, '--at', `frame:${N}`, '--out', ref, '--json');
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(fileSha(join(job.dir, 'memory.raw')), fileSha(join(ref, 'memory.raw')));
    assert.equal(fileSha(join(job.dir, 'disks', 'd0.raw')), fileSha(join(ref, 'disks', 'd0.raw')));
    const m = JSON.parse(readFileSync(join(job.dir, 'manifest.json'), 'utf8'));
    assert.equal(m.stateRoot, cli.json.stateRoot);
    assert.equal(await p.locator('#job-root').textContent(), cli.json.stateRoot);
    assert.deepEqual(await p.locator('.job-files li').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-file'), Number(li.getAttribute('data-size'))])), [
      ['memory.raw', m.memory.size],
      ['disks/d0.raw', m.disks[0].size],
      ['frame.png', m.frameImage.size],
    ]);
  });

  it('Export at frame N: the files of ttj export --at frame:N, their hashes in the page; a failed job shows its code', async () => {
    const out = tmp.path('ui-out');
    server = await startUiServer(J, { out });
    const p = await open(server.url);
    const N = 5;
    await selectFrame(p, N);
    const job = await runJob(p, '#export');
    assert.equal(job.state, 'done', (await p.locator('#job').textContent()) ?? '');
    assert.equal(job.dir, join(out, `export-frame-${N}`));
    const m = JSON.parse(readFileSync(join(job.dir, 'manifest.json'), 'utf8'));
    const ref = tmp.path('ref');
    const cli = await ttjAsync('export', J, '--at', `frame:${N}`, '--out', ref, '--json');
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(
      m.files.map((f: { file: string; sha256: string }) => [f.file, f.sha256]),
      cli.json.files.map((f: { file: string; sha256: string }) => [f.file, f.sha256]),
    );
    for (const f of m.files) assert.equal(fileSha(join(job.dir, f.file)), f.sha256, f.file);
    assert.equal(await p.locator('.job-files li').count(), m.files.length);
    // A job of a point not in the journal fails; the page opened afterwards shows the last job with its code.
    const u = new URL(server.url);
    const post = await fetch(`${u.origin}/api/jobs${u.search}`, { method: 'POST', body: JSON.stringify({ kind: 'fold', at: 'epoch:99' }) });
    assert.equal(post.status, 202);
    await waitFor(async () => ((await (await fetch(`${u.origin}/api/jobs${u.search}`)).json()) as { job: { state: string } }).job.state !== 'running', 10000, 'the failing job');
    await p.reload();
    await p.locator('#job[data-state=failed]').waitFor();
    assert.equal(await p.locator('#job').getAttribute('data-code'), ErrorCodes.POINT_NOT_FOUND);
    assert.equal(existsSync(join(out, 'fold-epoch-99')), false);
  });

  it('the API: one job at a time (TTJ_LOCKED), bad requests 400 or 404 with their codes, labels need the token', async () => {
    const out = tmp.path('ui-out');
    const j = await Journal.open(J);
    try {
      const jobs = new UiJobs(undefined, out, 'started');
      const source = { journal: j, location: J, id: 'started' };
      const first = jobs.start('fold', 'frame:3', source);
      assert.equal(first.state, 'running');
      assert.throws(
        () => jobs.start('export', 'frame:4', source),
        (e: unknown) => isTtjError(e, ErrorCodes.LOCKED),
      );
      assert.throws(
        () => jobs.start('shred', 'frame:4', source),
        (e: unknown) => isTtjError(e, ErrorCodes.BAD_ARGUMENT),
      );
      await jobs.idle();
      assert.equal(jobs.current?.state, 'done');
      assert.equal(jobs.start('fold', 'frame:4', source).id, first.id + 1);
      await jobs.idle();
      assert.equal(jobs.current?.result?.dir, join(out, 'fold-frame-4'));
      // A job on another journal of the family (a fork) gets its journal id before the directory's name.
      jobs.start('fold', 'frame:4', { ...source, id: 'abcdef0123456789' });
      await jobs.idle();
      assert.equal(jobs.current?.result?.dir, join(out, 'abcdef01-fold-frame-4'));
    } finally {
      await j.close();
    }
    server = await startUiServer(J, { out });
    const u = new URL(server.url);
    const api = (path: string, body: unknown, token = u.search) => fetch(`${u.origin}${path}${token}`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal((await api('/api/labels', { at: 'frame:0', text: 'x' }, '')).status, 403);
    const bad = await api('/api/labels', { text: 'no point' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, ErrorCodes.BAD_ARGUMENT);
    const missing = await api('/api/labels', { at: 'frame:999', text: 'x' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, ErrorCodes.POINT_NOT_FOUND);
    const kind = await api('/api/jobs', { kind: 'delete', at: 'head' });
    assert.equal(kind.status, 400);
    const ok = await api('/api/labels', { at: 'frame:0', text: 'from the API' });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { label: { epoch: number } }).label.epoch, 0);
  });
});
