/**
 * A child process for crash and concurrency tests: appends epochs of deterministic
 * images to a journal forever (or N times), printing "committed E" after each.
 * Usage: node append-loop.js JOURNAL [count] [delayMs]
 */
import { writeFileSync } from 'node:fs';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { epochImage, LOOP_PAGE_SIZE } from './epoch-image.js';

const [journal, countArg, delayArg] = process.argv.slice(2);
const count = countArg ? Number(countArg) : Infinity;
const delay = delayArg ? Number(delayArg) : 0;
const w = await JournalWriter.openWriter(journal!, { command: 'append-loop (test)', pageSize: LOOP_PAGE_SIZE });
const img = `${journal}.img-${process.pid}`;
for (let i = 0; i < count; i++) {
  const e = w.nextEpochNumber;
  writeFileSync(img, epochImage(e));
  await appendImages(w, { memory: img, label: `e${e}` });
  process.stdout.write(`committed ${e}\n`);
  if (delay) await new Promise((r) => setTimeout(r, delay));
}
await w.close();
