/**
 * The web timeline at scale: a generated journal of 10,000 frames (720x400, 100 epochs
 * of 100 frames) opened by `ttj ui` in Chromium. Measured: the time from loading the
 * page to the scrubber over all frames with the first frame drawn (target: under 2 s),
 * against the peer the page's data comes from, `ttj log` of the same journal in-process
 * (the index listing every frame); a scrub step (moving to a random frame until its
 * image is drawn, median of 40); and the filmstrip's thumbnails all drawn.
 *
 * Standalone: `node dist/journal-tools/bench/ui-open.js [--frames N]` prints the figures.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Journal } from '../../src/journal/journal.js';
import { log } from '../../src/journal/log.js';
import { startUiServer } from '../../src/ui/server.js';
import { makeFramesJournal } from '../../test/helpers/frames-journal.js';

export interface UiOpenFigures {
  frames: number;
  width: number;
  height: number;
  /** Generating the journal (not part of any ratio). */
  makeMs: number;
  /** `log(journal)` in-process, median of 3. */
  logMs: number;
  /** Page load to all frames on the scrubber and frame 0 drawn, fresh browser context each, median of 3. */
  openMs: number;
  /** Moving the scrubber to a random frame until its image is drawn, median of 40. */
  scrubMs: number;
  /** The filmstrip's thumbnails all drawn after opening. */
  filmstripMs: number;
  /** openMs / logMs. */
  ratio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const CHROMIUM = '/usr/bin/chromium';

/** Whether the bench can drive a browser here. */
export function haveChromium(): boolean {
  return existsSync(process.env.TTJ_CHROMIUM ?? CHROMIUM);
}

/** Builds a journal of `frames` frames in `scratch` and measures opening and scrubbing it in the page (see the module's comment). */
export async function uiOpenFigures(scratch: string, frames = 10000): Promise<UiOpenFigures> {
  const J = join(scratch, 'ui-bench.j');
  const [width, height] = [720, 400];
  const framesPerEpoch = 100;
  let t = performance.now();
  await makeFramesJournal(J, scratch, { epochs: Math.ceil(frames / framesPerEpoch), framesPerEpoch, width, height });
  const makeMs = performance.now() - t;
  const logs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const j = await Journal.open(J);
    t = performance.now();
    await log(j);
    logs.push(performance.now() - t);
    await j.close();
  }
  const server = await startUiServer(J);
  const browser = await chromium.launch({
    executablePath: process.env.TTJ_CHROMIUM ?? CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu'],
  });
  try {
    const opens: number[] = [];
    let filmstripMs = 0;
    let scrubs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      t = performance.now();
      await page.goto(server.url);
      await page.locator(`#counts[data-frames="${frames}"]`).waitFor({ timeout: 60000 });
      await page.waitForFunction(() => {
        const img = document.getElementById('frame') as HTMLImageElement | null;
        return !!img && img.complete && img.naturalWidth > 0;
      });
      opens.push(performance.now() - t);
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.thumb img')].every((im) => im.complete && im.naturalWidth > 0));
      filmstripMs = performance.now() - t;
      if (i === 0) scrubs = await scrubTimes(page, frames);
      await ctx.close();
    }
    const openMs = median(opens);
    const logMs = median(logs);
    return { frames, width, height, makeMs, logMs, openMs, scrubMs: median(scrubs), filmstripMs, ratio: openMs / logMs };
  } finally {
    await browser.close();
    await server.close();
    rmSync(J, { recursive: true, force: true });
  }
}

/** Times 40 moves of the scrubber to random frames, each until that frame's image is drawn. */
async function scrubTimes(page: import('playwright-core').Page, frames: number): Promise<number[]> {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % frames;
  const out: number[] = [];
  for (let k = 0; k < 40; k++) {
    const n = next();
    const t = performance.now();
    await page.locator('#scrubber').fill(String(n));
    await page.waitForFunction((want) => {
      const img = document.getElementById('frame') as HTMLImageElement | null;
      return !!img && img.dataset.frame === String(want) && img.complete && img.naturalWidth > 0;
    }, n);
    out.push(performance.now() - t);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--frames');
  const frames = i > 0 ? Number(process.argv[i + 1]) : 10000;
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-ui-bench-'));
  try {
    console.log(JSON.stringify(await uiOpenFigures(scratch, frames), null, 2));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
