/**
 * One measured ttj step, run in its own process so that its wall time, peak RSS and
 * bytes written (/proc/self/io) are its own:
 *   ttj-step.js append J IMAGE      one epoch from a memory image
 *   ttj-step.js fold J POINT OUT    fold a point into OUT
 *   ttj-step.js verify J            verify --deep
 *   ttj-step.js grep J TEXT         grep the whole history for TEXT
 *   ttj-step.js diff J A B          diff two points (page tables only, no bytes read)
 *   ttj-step.js record J MIB SECONDS IMAGE   ttj record of the boot-sector guest IMAGE (MIB of RAM, an epoch every 500 ms, 10 fps)
 *   ttj-step.js noop                load the same modules and do nothing (the RSS constant)
 * `openMs` (append, fold): the part of `ms` spent opening the journal (for an encrypted one,
 * unlocking its key). With TTJ_PASSWORD set, the journal is opened with that password (and an appended one
 * created encrypted): the bench's encrypted runs.
 * Prints one JSON line: ms (the step itself), cpuMs (its CPU time, all threads), startupMs (Node bootstrap + loading ttj,
 * before the step), maxRssKb (VmHWM), ruMaxRssKb (getrusage), readBytes, writeBytes, and
 * what the step returned.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { JournalWriter } from '../../src/journal/writer.js';
import { Journal } from '../../src/journal/journal.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { grep } from '../../src/journal/grep.js';
import { diff } from '../../src/journal/diff.js';

// Static imports are evaluated before this line: performance.now() here is the time
// since the process started, i.e. Node's bootstrap plus loading ttj's modules.
const startupMs = performance.now();

function io(): { readBytes: number; writeBytes: number } {
  const t = readFileSync('/proc/self/io', 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { readBytes: get('read_bytes'), writeBytes: get('write_bytes') };
}

const [op, journal, a, b] = process.argv.slice(2);
const password = process.env.TTJ_PASSWORD;
const io0 = io();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let result: Record<string, unknown>;
switch (op) {
  case 'noop':
    result = { noop: true };
    break;
  case 'append': {
    const w = await JournalWriter.openWriter(journal!, { create: true, command: 'bench', password, encrypt: password !== undefined });
    const openMs = performance.now() - t0;
    const r = await appendImages(w, { memory: a! });
    await w.close();
    result = { openMs, epoch: r.epoch, dirtyPages: r.dirtyPages, zeroPages: r.zeroPages, newBlobs: r.newBlobs, newBytes: r.newBytes, storedBytes: r.storedBytes };
    break;
  }
  case 'fold': {
    const j = await Journal.open(journal!, { password });
    const openMs = performance.now() - t0;
    const m = await fold(j, { at: a!, out: b! });
    await j.close();
    result = { openMs, epoch: m.epoch, replayedEvents: m.replayedEvents, keyframeSeq: m.keyframeSeq };
    break;
  }
  case 'verify': {
    const j = await Journal.open(journal!, { password });
    const r = await verify(j, { deep: true });
    await j.close();
    if (!r.ok) throw new Error(`verify --deep failed: ${JSON.stringify(r.error)}`);
    result = { ok: r.ok, events: r.events, blobsChecked: r.blobsChecked, bytesChecked: r.bytesChecked };
    break;
  }
  case 'grep': {
    const j = await Journal.open(journal!, { password });
    const r = await grep(j, { text: a! });
    await j.close();
    result = { places: r.totalPlaces, spans: r.places.reduce((n, p) => n + p.spans.length, 0), searchedBlobs: r.searched.blobs, searchedBytes: r.searched.bytes };
    break;
  }
  case 'diff': {
    const j = await Journal.open(journal!, { password });
    const d = await diff(j, { a: a!, b: b! });
    await j.close();
    result = { changedPages: d.memory?.changedPages ?? 0, ranges: d.memory?.ranges.length ?? 0 };
    break;
  }
  case 'record': {
    // Loaded here only: the capture modules (QEMU, NBD) would add to every other step's startup.
    const { record } = await import('../../src/capture/record.js');
    const r = await record(journal!, { memorySize: Number(a) * 1048576, disks: [{ name: 'boot', path: process.argv[6]! }], intervalMs: 500, fps: 10, durationMs: Number(b) * 1000 });
    result = { accel: r.qemu.accel, epochs: r.epochs, frames: r.frames, missedEpochTicks: r.missedEpochTicks, pauseP50Ms: r.pauseMs.p50, pauseP99Ms: r.pauseMs.p99, bytesStored: r.bytesStored };
    break;
  }
  default:
    throw new Error(`unknown step ${op}`);
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const io1 = io();
// Peak RSS of this process image: VmHWM. getrusage's maxrss is preserved across exec,
// so after fork+exec it can report the benchmark parent's size; both are printed.
const hwmKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
process.stdout.write(
  JSON.stringify({ ms, cpuMs, startupMs, maxRssKb: hwmKb, ruMaxRssKb: process.resourceUsage().maxRSS, writeBytes: io1.writeBytes - io0.writeBytes, readBytes: io1.readBytes - io0.readBytes, ...result }) + '\n',
);
