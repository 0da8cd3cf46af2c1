/**
 * The screenshots of docs/ui.md and the README: `node dist/journal-tools/ui-screenshots.js`
 * records the boot-sector guest for a few seconds, opens `ttj ui` on it in Chromium,
 * and saves docs/ui.png (the timeline with a range compared, a point labelled and folded
 * from the panel), docs/ui-vm.png (a VM restored from a frame, live in noVNC) and
 * docs/ui-fork.png (a fork being recorded from a frame, in the fork tree).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startUiServer } from '../src/ui/server.js';
import { ensureBootSectorGuest } from './guests/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ttj-ui-shots-'));
const J = join(work, 'vm.ttj');
try {
  const rec = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'record', J, '--memory', '32M', '--disk', `boot=${ensureBootSectorGuest()}`, '--interval', '250ms', '--fps', '4', '--duration', '8s'], {
    stdio: 'inherit',
  });
  if (rec.status !== 0) throw new Error('ttj record failed');
  spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'append', J, '--label', 'after boot'], { stdio: 'inherit' });
  const server = await startUiServer(J, { out: join(work, 'ui-out') });
  const browser = await chromium.launch({ executablePath: process.env.TTJ_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    await page.locator('#frame').waitFor();
    const n = Number(await page.locator('#counts').getAttribute('data-frames'));
    const epochs = Number(await page.locator('#counts').getAttribute('data-epochs'));
    await page.locator('.lane[data-lane=dirty] svg').scrollIntoViewIfNeeded();
    const box = (await page.locator('.lane[data-lane=dirty] svg').boundingBox())!;
    const x = (e: number) => box.x + ((e + 0.5) * box.width) / epochs;
    await page.mouse.move(x(Math.floor(epochs * 0.3)), box.y + 10);
    await page.mouse.down();
    await page.mouse.move(x(Math.floor(epochs * 0.6)), box.y + 10, { steps: 4 });
    await page.mouse.up();
    await page.locator('#range-result[data-changed-pages]:not([data-changed-pages=""])').waitFor();
    await page.locator('#scrubber').fill(String(Math.floor(n * 0.6)));
    await page.locator('#label-text').fill('before the test run');
    await page.locator('#label-it').click();
    await page.locator('#label-note[data-ok=true]').waitFor();
    await page.locator('#fold').click();
    await page.locator('#job[data-state=done]').waitFor({ timeout: 60000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(root, 'docs', 'ui.png'), fullPage: true });
    await page.locator('#restore').click();
    await page.locator('#vm-screen[data-state=connected]').waitFor({ timeout: 60000 });
    await page.waitForTimeout(2000);
    await page.screenshot({ path: join(root, 'docs', 'ui-vm.png'), fullPage: true });
    await page.locator('#stop-vm').click();
    await page.locator('#frame').waitFor();
    await page.locator('#scrubber').fill(String(Math.floor(n * 0.3)));
    await page.locator('#fork').click();
    await page.locator('#vm-screen[data-state=connected]').waitFor({ timeout: 120000 });
    await page.locator('#fork-tree .recording').waitFor({ timeout: 30000 });
    await page.waitForTimeout(4000);
    // The panel scrolls on its own: its end shows the fork tree.
    await page.locator('#fork-tree').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(root, 'docs', 'ui-fork.png'), fullPage: true });
    await page.locator('#stop-vm').click();
    await page.locator('#frame').waitFor({ timeout: 150000 });
  } finally {
    await browser.close();
    await server.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
