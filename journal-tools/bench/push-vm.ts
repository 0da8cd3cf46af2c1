/**
 * Moving a VM: the bytes `ttj push` sends to a destination that holds an older epoch of
 * the VM, against the bytes of QEMU's own migration stream of the same VM.
 *
 * A real QEMU guest is recorded with `record()` (what `ttj record` runs): the Linux guest
 * (journal-tools/guests/build-linux.sh: it rewrites 256 KiB of a 16 MiB tmpfs file every
 * ~200 ms and writes its disk every second), or the boot-sector guest when the Linux one
 * cannot be built. Once the guest runs, `ttj push SRC DEST --json` (a process of its own,
 * while the recording goes on) gives the destination an early epoch; the recording
 * goes on until that epoch is `gapS` seconds of epochs behind (20 epochs of 500 ms by
 * default) and stops; a second `ttj push` then brings the destination up to date: its
 * `bytesSent` (events and blobs, uncompressed) is the cost of moving the VM to a machine
 * that holds its older copy. The push replicates the history, so every epoch's version
 * of a page goes over: the bytes grow with the epochs behind (`bytesPerEpochBehind`).
 *
 * QEMU's stream is measured for real on the same VM at its last epoch: a VM restored
 * from the journal's head (`restore()`, paused) migrates with QEMU's default
 * capabilities (RAM included: `x-ignore-shared` off, no compression, no xbzrle; zero
 * pages go as a flag each) to a socket; its length is counted. A paused VM sends each
 * page once, so this is the smallest stream QEMU sends for it (a live migration
 * resends the pages dirtied while it runs). The stream holds no disk contents (QEMU's
 * migration assumes shared storage); the push includes the disk writes.
 *
 * Standalone: `node dist/journal-tools/bench/push-vm.js [--gap S] [--memory MiB] [--guest linux|boot-sector]` prints the
 * figures, the verdict, its why and the paragraph of docs/benchmarks.md.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { record } from '../../src/capture/record.js';
import type { Vm } from '../../src/capture/qemu/vm.js';
import { restore } from '../../src/replay/restore.js';
import type { PushResult } from '../../src/journal/push.js';
import { Journal } from '../../src/journal/journal.js';
import { foldState } from '../../src/journal/fold.js';
import { decodeEvent } from '../../src/journal/codec.js';
import { namedBlobs } from '../../src/journal/blob-needs.js';
import { movingVm } from './report.js';
import { pushVmWhy } from './why.js';
import { LINUX_APPEND, ensureBootSectorGuest, ensureLinuxGuest } from '../guests/guests.js';

const ttjBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');
const execFileP = promisify(execFile);
/** The recording's epoch interval, ms (`ttj record`'s default). */
const INTERVAL_MS = 500;

/** What the moving-a-VM section measured. */
export interface PushVmFigures {
  guest: 'linux' | 'boot-sector';
  memoryMiB: number;
  accel: string;
  /** The destination's epoch after the first push, and the source's last epoch. */
  earlyEpoch: number;
  lastEpoch: number;
  /** Epochs the destination is behind at the second push (lastEpoch − earlyEpoch), and the recording time between the two epochs' commits. */
  epochsBehind: number;
  secondsBehind: number;
  /** The first push (an empty destination: a full copy of the early journal). */
  firstPush: { bytesSent: number; ms: number };
  /** The second push: what moving the VM to the destination costs. */
  secondPush: { bytesSent: number; bytesSkipped: number; blobsSent: number; blobsSkipped: number; events: number; ms: number };
  /** QEMU's migration stream of the VM at its last epoch (paused, default capabilities), bytes. */
  qemuStreamBytes: number;
  /** Non-zero bytes of the guest's RAM at its last epoch (whole 4 KiB pages). */
  nonZeroRamBytes: number;
  /** RAM pages of the last epoch whose content the early epoch lacks (distinct, non-zero), in bytes: what a transfer of the state difference alone would send for RAM. */
  ramDeltaBytes: number;
  /** The second push's blob bytes by what named them first (memory pages, disk blocks, device state and frame chunks). */
  sentByKind: Record<BlobKind, number>;
  /** secondPush.bytesSent / qemuStreamBytes: ≤ 0.2 is the target. */
  ratio: number;
  /** secondPush.bytesSent / epochsBehind: what each epoch of lag adds. */
  bytesPerEpochBehind: number;
}

/** Options of {@link pushVm}. */
export interface PushVmOptions {
  /** How far behind the destination is at the second push: seconds of recording after its epoch (default 10). */
  gapS?: number;
  /** Guest RAM, MiB (default 256). */
  memoryMiB?: number;
  /** Which guest (default: the Linux guest, else the boot-sector guest). */
  guest?: 'linux' | 'boot-sector';
  log?: (s: string) => void;
}

/** Runs `ttj push SRC DEST --json` as a process (without blocking this one, which may be recording). */
async function ttjPush(src: string, dest: string): Promise<{ r: PushResult; ms: number }> {
  const t0 = performance.now();
  const { stdout } = await execFileP(process.execPath, [ttjBin, 'push', src, dest, '--json'], { maxBuffer: 1 << 24 });
  return { r: JSON.parse(stdout) as PushResult, ms: performance.now() - t0 };
}

/** The epoch at the head of the journal at `location`. */
async function headEpoch(location: string): Promise<number> {
  const j = await Journal.open(location);
  try {
    return (await j.head()).epoch;
  } finally {
    await j.close();
  }
}

/** Bytes of the distinct non-zero RAM pages at `to` whose content the RAM at `from` does not hold. */
async function ramDelta(j: Journal, from: string, to: string): Promise<number> {
  const a = (await foldState(j, from)).state.memory!;
  const b = (await foldState(j, to)).state.memory!;
  const had = new Set<string>();
  for (let i = 0; i < a.count; i++) if (!a.isZero(i)) had.add(a.get(i).toString('hex'));
  const sent = new Set<string>();
  for (let i = 0; i < b.count; i++) if (!b.isZero(i) && !had.has(b.get(i).toString('hex'))) sent.add(b.get(i).toString('hex'));
  return sent.size * j.pageSize;
}

type BlobKind = 'pages' | 'diskWrite' | 'device' | 'frame';

/**
 * The blob bytes the events after `afterSeq` name for the first time (what a push to a
 * destination at `afterSeq` sends), by the kind of event that names them.
 */
async function sentBlobsByKind(j: Journal, afterSeq: number): Promise<Record<BlobKind, number>> {
  const seen = new Set<string>();
  const fresh: Record<BlobKind, Buffer[]> = { pages: [], diskWrite: [], device: [], frame: [] };
  for await (const batch of j.storedEvents(0)) {
    for (const e of batch) {
      const ev = decodeEvent(e.bytes, e.seq);
      for (const a of namedBlobs(ev, e.seq)) {
        const k = a.toString('hex');
        if (seen.has(k)) continue;
        seen.add(k);
        if (e.seq > afterSeq) fresh[ev.body as BlobKind].push(a);
      }
    }
  }
  const out = { pages: 0, diskWrite: 0, device: 0, frame: 0 };
  for (const kind of Object.keys(fresh) as BlobKind[]) for (const size of await j.blobSizes(fresh[kind])) out[kind] += size ?? 0;
  return out;
}

/** What the second push was made of: the RAM difference between the two epochs, the blob bytes by kind, the recording time between them. */
async function analyse(location: string, early: number, last: number, afterSeq: number) {
  const j = await Journal.open(location);
  try {
    const [a, b] = [(await j.epoch(early))!, (await j.epoch(last))!];
    return { ramDeltaBytes: await ramDelta(j, `epoch:${early}`, `epoch:${last}`), sentByKind: await sentBlobsByKind(j, afterSeq), secondsBehind: (b.timeUs - a.timeUs) / 1e6 };
  } finally {
    await j.close();
  }
}

/** Bytes in the non-zero 4 KiB pages of the file at `path`. */
function nonZeroBytes(path: string): number {
  const PAGE = 4096;
  const buf = Buffer.alloc(8 << 20);
  const zero = Buffer.alloc(PAGE);
  const fd = openSync(path, 'r');
  let n = 0;
  try {
    for (let got; (got = readSync(fd, buf, 0, buf.length, null)) > 0;) {
      for (let o = 0; o < got; o += PAGE) if (!buf.subarray(o, Math.min(o + PAGE, got)).equals(zero.subarray(0, Math.min(PAGE, got - o)))) n += Math.min(PAGE, got - o);
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

/** QEMU's own migration stream of the VM at the journal's head: a VM restored from it, paused, migrated with RAM; returns its length and the RAM's non-zero bytes. */
async function qemuStream(journal: string): Promise<{ bytes: number; nonZero: number }> {
  const done = new AbortController();
  let measured: Promise<{ bytes: number; nonZero: number }> | undefined;
  const measure = async (vm: Vm) => {
    try {
      const nonZero = nonZeroBytes(vm.ramPath);
      // ttj's VMs leave the shared RAM out of the stream; QEMU's default puts it in.
      await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: false }] });
      return { bytes: (await vm.saveDeviceState()).length, nonZero };
    } finally {
      done.abort();
    }
  };
  await restore(journal, {
    at: 'head',
    paused: true,
    signal: done.signal,
    onStart: (vm) => {
      measured = measure(vm);
      measured.catch(() => undefined);
    },
  });
  if (!measured) throw new Error('the restored VM did not start');
  return measured;
}

/** Records a guest, pushes an early epoch to a destination, records until it is `gapS` seconds of epochs behind, pushes again, and measures QEMU's migration stream of the VM at its end. */
export async function pushVm(scratch: string, opts: PushVmOptions = {}): Promise<PushVmFigures> {
  const gapS = opts.gapS ?? 10;
  const memoryMiB = opts.memoryMiB ?? 256;
  const log = opts.log ?? (() => undefined);
  const dir = join(scratch, 'push-vm');
  mkdirSync(dir);
  try {
    let guest: PushVmFigures['guest'] = opts.guest ?? 'linux';
    let linux: { kernel: string; initrd: string } | undefined;
    if (guest === 'linux') {
      try {
        linux = await ensureLinuxGuest();
      } catch (e) {
        log(`the Linux guest did not build (${(e as Error).message.split('\n')[0]}): the boot-sector guest instead`);
        guest = 'boot-sector';
      }
    }
    let disk: { name: string; path: string };
    if (linux) {
      disk = { name: 'data', path: join(dir, 'data.img') };
      writeFileSync(disk.path, '');
      truncateSync(disk.path, 64 << 20);
    } else disk = { name: 'boot', path: await ensureBootSectorGuest() };

    const src = join(dir, 'src.ttj');
    const dest = join(dir, 'dest.ttj');
    const consolePath = join(dir, 'console.log');
    const stop = new AbortController();
    let epoch = -1;
    const recording = record(src, {
      memorySize: memoryMiB << 20,
      kernel: linux?.kernel,
      initrd: linux?.initrd,
      append: linux ? LINUX_APPEND : undefined,
      disks: [disk],
      consolePath: linux ? consolePath : undefined,
      intervalMs: INTERVAL_MS,
      fps: 10,
      durationMs: 600000,
      signal: stop.signal,
      onEpoch: (e) => (epoch = e.epoch),
    });
    recording.catch(() => undefined);
    let ended = false;
    void recording.finally(() => (ended = true)).catch(() => undefined);
    const consoleText = () => {
      try {
        return readFileSync(consolePath, 'utf8');
      } catch {
        return '';
      }
    };
    let first: Awaited<ReturnType<typeof ttjPush>>;
    let earlyEpoch: number;
    try {
      // Wait for the guest's workload (the Linux guest's ticks; the boot-sector guest runs at once).
      const ready = () => (linux ? /^tick 10\r?$/m.test(consoleText()) : epoch >= 4);
      for (const deadline = Date.now() + 120000; !ready(); await new Promise((r) => setTimeout(r, 200))) {
        if (ended) throw new Error(`the recording ended before the guest ran its workload: ${JSON.stringify(await recording)}`);
        if (Date.now() > deadline) throw new Error(`the guest did not start its workload in 120 s (console: ${consoleText().slice(-300)})`);
      }
      log(`push-vm: ${guest} guest at epoch ${epoch}: first push (while recording)...`);
      first = await ttjPush(src, dest);
      earlyEpoch = await headEpoch(dest);
      // Record until the destination's epoch is gapS behind (the stop takes one more epoch).
      const until = earlyEpoch + Math.round((gapS * 1000) / INTERVAL_MS) - 1;
      log(`push-vm: ${(first.r.bytesSent / 1e6).toFixed(1)} MB in ${Math.round(first.ms)} ms (epoch ${earlyEpoch}); recording to epoch ${until + 1}...`);
      for (const deadline = Date.now() + 10 * gapS * 1000 + 60000; epoch < until; await new Promise((r) => setTimeout(r, 50))) {
        if (ended || Date.now() > deadline) throw new Error(`the recording did not reach epoch ${until} (at ${epoch})`);
      }
    } catch (e) {
      stop.abort();
      await recording.catch(() => undefined);
      throw e;
    }
    stop.abort();
    const rec = await recording;
    const second = await ttjPush(src, dest);
    log(`push-vm: second push ${(second.r.bytesSent / 1e6).toFixed(1)} MB (epochs ${earlyEpoch} → ${rec.lastEpoch}); QEMU's migration stream of the VM at its last epoch...`);
    const q = await qemuStream(src);
    const lastEpoch = rec.lastEpoch ?? -1;
    const more = await analyse(src, earlyEpoch, lastEpoch, second.r.commonSeq);
    const s = second.r;
    return {
      guest,
      memoryMiB,
      accel: rec.qemu.accel,
      earlyEpoch,
      lastEpoch,
      epochsBehind: lastEpoch - earlyEpoch,
      secondsBehind: more.secondsBehind,
      firstPush: { bytesSent: first.r.bytesSent, ms: first.ms },
      secondPush: { bytesSent: s.bytesSent, bytesSkipped: s.bytesSkipped, blobsSent: s.blobsSent, blobsSkipped: s.blobsSkipped, events: s.events, ms: second.ms },
      qemuStreamBytes: q.bytes,
      nonZeroRamBytes: q.nonZero,
      ramDeltaBytes: more.ramDeltaBytes,
      sentByKind: more.sentByKind,
      ratio: s.bytesSent / q.bytes,
      bytesPerEpochBehind: s.bytesSent / (lastEpoch - earlyEpoch),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-push-vm-'));
  try {
    const figures = await pushVm(scratch, {
      gapS: arg('gap') ? Number(arg('gap')) : undefined,
      memoryMiB: arg('memory') ? Number(arg('memory')) : undefined,
      guest: arg('guest') as PushVmOptions['guest'],
      log: (s) => process.stderr.write(`${s}\n`),
    });
    console.log(JSON.stringify(figures, null, 2));
    const ok = figures.ratio <= 0.2;
    console.log(`\nratio ${figures.ratio.toFixed(3)} (target ≤ 0.2: ${ok ? 'met' : 'missed'})\n\nwhy: ${pushVmWhy(figures, ok)}\n\n${movingVm(figures)}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
