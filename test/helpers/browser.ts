/** A real browser for the web timeline's tests: Debian's Chromium, headless, driven by playwright-core. */
import { chromium, type Browser } from 'playwright-core';

/** Chromium's flags here: no sandbox as root, nothing that reaches for the network (there is none). */
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-default-apps', '--disable-sync', '--disable-gpu'];

/** Starts a browser for the suite (closed after it). Call inside describe(). */
export function useBrowser(): { readonly browser: Browser } {
  let browser: Browser | undefined;
  before(async () => {
    browser = await chromium.launch({ executablePath: process.env.TTJ_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS });
  });
  after(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error('the browser has not started');
      return browser;
    },
  };
}
