import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { fold } from '../../src/journal/fold.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { useBrowser } from '../helpers/browser.js';
import { ttjAsync } from '../helpers/run-ttj.js';
import { useShmTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { withJournal } from '../helpers/with-journal.js';

const counts = async (page: Page) => Number(await page.locator('#counts').getAttribute('data-frames'));
const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

describe('ttj ui: fork and record from the page, and the fork tree (boot-sector guest) @slow', function () {
  this.timeout(300000);
  const tmp = useShmTmp();
  const b = useBrowser();
  let server: UiServer | undefined;
  let page: Page | undefined;

  afterEach(async () => {
    await page?.close();
    await server?.close();
  });

  it('forks at frame N into a new journal recorded live, the page follows it, the tree shows parent and child; stopped, the fork verifies and starts at the state of frame N', async () => {
    const image = ensureBootSectorGuest();
    const J = tmp.path('vm.ttj');
    const rec = await ttjAsync('record', J, '--memory', '32M', '--disk', `boot=${image}`, '--interval', '250ms', '--fps', '4', '--duration', '6s');
    assert.equal(rec.code, 0, rec.stderr);
    const l = (await ttjAsync('log', J, '--json')).json;
    const parentId = await withJournal(J, async (j) => j.header.journalId);
    server = await startUiServer(J);
    page = await b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    await page.locator('#frame').waitFor();
    await page.locator(`#fork-tree li.here[data-journal="${parentId}"]`).waitFor();

    // The first frame after an epoch's commit: the screen of that epoch's pause, the state restored there.
    const epoch = l.epochs[Math.floor(l.epochs.length * 0.6)];
    const frame = l.frames.find((f: { epoch: number; seq: number }) => f.epoch === epoch.epoch && f.seq > epoch.seq).frame as number;
    await page.locator('#scrubber').fill(String(frame));
    await page.locator('#fork').click();
    await page.locator('#vm-screen[data-state=connected]').waitFor({ timeout: 120000 });
    const vm = ((await (await fetch(new URL(`/api/vm?token=${server.token}`, server.url))).json()) as { vm: { pid: number; frame: number; fork: { journal: string; location: string } } }).vm;
    const F = tmp.path('vm-fork-1.ttj');
    assert.deepEqual([vm.frame, vm.fork.location], [frame, F]);

    // The page shows the new branch: its journal, with "you are here" under its parent, and its frames arriving.
    await page.locator(`#fork-tree li[data-journal="${parentId}"] > ul > li.here[data-journal="${vm.fork.journal}"]`).waitFor({ timeout: 30000 });
    const here = page.locator('#fork-tree li.here');
    assert.match((await here.textContent())!, new RegExp(`vm-fork-1\\.ttj\\s+forked at frame:${frame} \\(epoch ${epoch.epoch}\\)\\s+● recording\\s+◀ you are here`));
    assert.match((await page.locator('header .journal').textContent())!, /vm-fork-1\.ttj$/);
    const first = await counts(page);
    await waitFor(async () => (await counts(page!)) >= first + 6, 90000, 'new frames of the fork on the page');

    await page.locator('#stop-vm').click();
    await page.locator('#frame').waitFor({ timeout: 150000 });
    await waitFor(() => gone(vm.pid), 30000, 'QEMU to exit');
    await page.locator('#fork-tree .recording').waitFor({ state: 'detached', timeout: 10000 });
    const after = (await (await fetch(new URL(`/api/vm?token=${server.token}`, server.url))).json()) as { vm: unknown };
    assert.equal(after.vm, null);

    // The fork is a complete journal: it verifies, it has more than its first epoch, and the page shows all of it.
    const v = await ttjAsync('verify', F, '--json');
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const fl = (await ttjAsync('log', F, '--json')).json;
    assert.ok(fl.epochs.length > 2, `${fl.epochs.length} epochs in the fork`);
    await waitFor(async () => (await counts(page!)) === fl.frames.length, 20000, 'the page to show every frame of the fork');
    // Its first epoch is the parent's state at frame N.
    const atParent = await withJournal(J, (j) => fold(j, { at: `frame:${frame}`, out: tmp.path('parent-fold') }));
    const atFork = await withJournal(F, (j) => fold(j, { at: 'epoch:0', out: tmp.path('fork-fold') }));
    assert.equal(atFork.memory!.root, atParent.memory!.root);

    // A click on the parent's branch shows the parent again.
    await page.locator(`#fork-tree li[data-journal="${parentId}"] > button.branch`).click();
    await page.locator(`#fork-tree li.here[data-journal="${parentId}"]`).waitFor();
    await waitFor(async () => (await counts(page!)) === l.frames.length, 10000, "the parent's frames");
  });

  it('a fork recording when the server stops (SIGTERM) is stopped cleanly: its journal verifies', async () => {
    const image = ensureBootSectorGuest();
    const J = tmp.path('vm.ttj');
    const rec = await ttjAsync('record', J, '--memory', '32M', '--disk', `boot=${image}`, '--interval', '250ms', '--fps', '4', '--duration', '3s');
    assert.equal(rec.code, 0, rec.stderr);
    server = await startUiServer(J);
    const api = (path: string, init?: RequestInit) => fetch(new URL(`${path}?token=${server!.token}`, server!.url), init).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
    const started = await api('/api/forks', { method: 'POST', body: JSON.stringify({ at: 'epoch:2', name: 'mine.ttj' }), headers: { 'content-type': 'application/json' } });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    const M = tmp.path('mine.ttj');
    assert.equal(started.json.vm.fork.location, M);
    assert.ok(
      started.json.members.some((m: { id: string }) => m.id === started.json.vm.fork.journal),
      'the fork joined the family',
    );
    assert.equal((await api('/api/family')).json.recording, started.json.vm.fork.journal);
    // The name is now taken.
    const again = await api('/api/forks', { method: 'POST', body: JSON.stringify({ at: 'epoch:2', name: 'mine.ttj' }), headers: { 'content-type': 'application/json' } });
    assert.deepEqual([again.status, again.json.error.code], [409, 'TTJ_JOURNAL_EXISTS']);
    await waitFor(async () => (await withJournal(M, (j) => j.head())).epoch >= 3, 60000, 'epochs of the fork');
    await server.close(); // what SIGTERM does to ttj ui
    server = undefined;
    assert.ok(gone(started.json.vm.pid), 'QEMU is gone once the server has stopped');
    const v = await ttjAsync('verify', M, '--json');
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});
