/**
 * One measured ttj step, run in its own process so that its wall time, peak RSS and
 * bytes written (/proc/self/io) are its own: `ttj-step.js append J IMAGE`,
 * `ttj-step.js fold J POINT OUT`, `ttj-step.js verify J`. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';

function io(): { readBytes: number; writeBytes: number } {
  const t = readFileSync('/proc/self/io', 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { readBytes: get('read_bytes'), writeBytes: get('write_bytes') };
}

const [op, journal, a, b] = process.argv.slice(2);
const io0 = io();
const t0 = performance.now();
let result: Record<string, unknown> = {};
if (op === 'noop') {
  // Loads the same modules as the other steps: its peak RSS is the constant to subtract.
  result = { noop: true };
} else if (op === 'append') {
  const w = await JournalWriter.openWriter(journal!, { command: 'bench' });
  const r = await appendImages(w, { memory: a! });
  await w.close();
  result = { epoch: r.epoch, dirtyPages: r.dirtyPages, storedBytes: r.storedBytes, newBytes: r.newBytes };
} else if (op === 'fold') {
  const j = await Journal.open(journal!);
  const m = await fold(j, { at: a!, out: b! });
  await j.close();
  result = { epoch: m.epoch, replayedEvents: m.replayedEvents };
} else if (op === 'verify') {
  const j = await Journal.open(journal!);
  const r = await verify(j, { deep: true });
  await j.close();
  result = { ok: r.ok, bytesChecked: r.bytesChecked };
}
const ms = performance.now() - t0;
const io1 = io();
// Peak RSS of this process image: VmHWM (getrusage's maxrss survives exec, so it would
// include the benchmark parent's memory at fork time).
const hwmKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
process.stdout.write(JSON.stringify({ ms, maxRssKb: hwmKb, writeBytes: io1.writeBytes - io0.writeBytes, readBytes: io1.readBytes - io0.readBytes, ...result }) + '\n');
