/**
 * A child process for crash and concurrency tests: appends epochs of deterministic
 * images to a journal forever (or N times), printing "committed E" after each. The
 * journal is a directory or a store URL (postgres://...); an append that fails prints
 * "failed CODE" (the TtjError's code) before the process exits non-zero.
 * Usage: node append-loop.js JOURNAL [count] [delayMs]
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { epochImage, LOOP_PAGE_SIZE } from './epoch-image.js';

const [journal, countArg, delayArg] = process.argv.slice(2);
const count = countArg ? Number(countArg) : Infinity;
const delay = delayArg ? Number(delayArg) : 0;
const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(journal!);
const img = isUrl ? join(tmpdir(), `ttj-append-loop.img-${process.pid}`) : `${journal}.img-${process.pid}`;
try {
  const w = await JournalWriter.openWriter(journal!, { command: 'append-loop (test)', pageSize: LOOP_PAGE_SIZE });
  for (let i = 0; i < count; i++) {
    const e = w.nextEpochNumber;
    writeFileSync(img, epochImage(e));
    await appendImages(w, { memory: img, label: `e${e}` });
    process.stdout.write(`committed ${e}\n`);
    if (delay) await new Promise((r) => setTimeout(r, delay));
  }
  await w.close();
} catch (e) {
  process.stdout.write(`failed ${(e as { code?: string }).code ?? 'unknown'}\n`);
  throw e;
} finally {
  if (isUrl) rmSync(img, { force: true });
}
