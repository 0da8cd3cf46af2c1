import { performance } from 'node:perf_hooks';
import { EMPTY, ReplaySubject, exhaustMap, from, interval, lastValueFrom, map, merge, concatMap, takeUntil, timer, filter } from 'rxjs';
import { ErrorCodes, TtjError, withContext } from '../errors.js';
import { appendImages } from '../journal/append-images.js';
import { bytesPerFrame } from '../journal/audio-format.js';
import type { JournalWriter } from '../journal/writer.js';
import type { JournalBlockDevice } from './journal-block-device.js';
import { Semaphore } from '../util/semaphore.js';
import { RamFile, type RamCapture } from './qemu/ram-snapshot.js';
import type { Vm } from './qemu/vm.js';
import { encodePng } from './qemu/screen-image.js';
import type { WavTap } from './qemu/wav-tap.js';

/**
 * The shortest epoch interval, ms. An epoch pauses the VM for its device state, frame and
 * RAM copy (tens of ms; docs/qemu.md): a shorter interval would keep the VM paused.
 */
const MIN_INTERVAL_MS = 50;
/** The longest epoch interval, ms (a day; timers cannot wait much longer). */
const MAX_INTERVAL_MS = 24 * 3600 * 1000;
/** The most frames per second between epochs (each is a screendump in QEMU's main loop). */
const MAX_FPS = 30;

/** Options of {@link recordVm}. */
export interface RecordVmOptions {
  /** The password of an encrypted journal (the CLI reads it from TTJ_PASSWORD or --password-file). */
  password?: string;
  /** An epoch every this many ms. Default 500 ({@link MIN_INTERVAL_MS}..{@link MAX_INTERVAL_MS}). */
  intervalMs?: number;
  /** Frames per second between epochs (0: only the frame of each epoch). Default 10 (a whole number, at most {@link MAX_FPS}). */
  fps?: number;
  /** Stop after this many ms. Default: until stopped. */
  durationMs?: number;
  /** Aborting stops the recording (the epoch in flight is finished and committed). */
  signal?: AbortSignal;
  /** Disks served to the VM from the journal; their writes are held at each epoch. */
  disks?: JournalBlockDevice[];
  /**
   * The sound the guest plays (the VM started with `audioPath`): read at each capture and
   * appended as audio events before it (docs/qemu.md, "Sound").
   */
  audio?: WavTap;
  /** Called after each epoch is appended. */
  onEpoch?: (e: { epoch: number; pauseMs: number; dirtyPages: number; storedBytes: number }) => void;
}

/** What a recording did (`ttj record --json`). */
export interface RecordSummary {
  epochs: number;
  frames: number;
  firstEpoch?: number;
  lastEpoch?: number;
  bytesStored: number;
  /** How long the VM was paused per epoch, ms. */
  pauseMs: { p50: number; p99: number; max: number; mean: number };
  /**
   * Interval ticks while recording. Each became an epoch or a missed tick, and one more
   * epoch is taken when the recording stops (unless the VM is gone), so `epochs` is
   * `epochTicks - missedEpochTicks + 1` when every capture succeeded.
   */
  epochTicks: number;
  /** Epoch ticks that came while an epoch was still being captured (the interval was too short, or the machine busy). */
  missedEpochTicks: number;
  missedFrameTicks: number;
  stoppedBy: 'duration' | 'signal' | 'poweroff';
  /** With sound: what was appended as audio events. */
  audio?: { events: number; samples: number; seconds: number; sampleRate: number; channels: number; format: string };
}

/** A capture; `sound` is the audio stream position (sample frames) read at it. */
type Captured = ({ kind: 'epoch'; ram: RamCapture; device: Buffer; frame: Buffer; pauseMs: number } | { kind: 'frame'; frame: Buffer }) & { sound?: number };

/**
 * Checks the epoch interval and frame rate of a recording (call it before creating
 * anything: `ttj record` and `ttj restore --fork` do).
 * @throws TtjError BAD_ARGUMENT naming the value and its bounds.
 */
export function checkRecordTiming(opts: Pick<RecordVmOptions, 'intervalMs' | 'fps'>): void {
  const { intervalMs, fps } = opts;
  if (intervalMs !== undefined && !(Number.isFinite(intervalMs) && intervalMs >= MIN_INTERVAL_MS && intervalMs <= MAX_INTERVAL_MS)) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--interval ${intervalMs}ms is out of range: an epoch pauses the VM for tens of ms, so the interval is ${MIN_INTERVAL_MS}ms to ${MAX_INTERVAL_MS / 3600000}h`, {
      flag: 'interval',
      actual: intervalMs,
      min: MIN_INTERVAL_MS,
      max: MAX_INTERVAL_MS,
    });
  }
  if (fps !== undefined && !(Number.isInteger(fps) && fps >= 0 && fps <= MAX_FPS)) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `--fps ${fps} is out of range: a whole number of frames per second from 0 (only each epoch's frame) to ${MAX_FPS}`, {
      flag: 'fps',
      actual: fps,
      min: 0,
      max: MAX_FPS,
    });
  }
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/**
 * Records a running VM into a journal until the duration ends, the signal aborts,
 * or the guest powers off: an epoch every interval (pause, copy RAM, save the
 * device state, take the frame, resume; then hash, compress and append off the
 * VM's critical path) and frames between epochs at `fps`. The RAM is not copied: while
 * the VM is paused its RAM file is fingerprinted in place and only the pages that
 * changed since the last epoch are read ({@link RamFile}). Epoch and frame captures
 * are merged in capture order into one sequential append queue; at most two epochs
 * are in flight, so a slow append delays the next capture instead of growing memory.
 * The VM is left running (or gone, after a power-off).
 * @throws TtjError QEMU_FAILED when QEMU dies (the journal keeps every epoch committed before,
 * and `details.summary` says what was recorded); the journal's own error (NO_SPACE, ...) when
 * the guest's disk writes could not be journaled; BAD_ARGUMENT (see {@link checkRecordTiming}).
 */
export async function recordVm(w: JournalWriter, vm: Vm, opts: RecordVmOptions = {}): Promise<RecordSummary> {
  checkRecordTiming(opts);
  const intervalMs = opts.intervalMs ?? 500;
  const fps = opts.fps ?? 10;
  const ramFile = new RamFile(vm.ramPath, vm.config.memorySize, w.pageSize);
  // One epoch appended while the next is captured.
  const inFlight = new Semaphore(2);
  const pauses: number[] = [];
  const summary: RecordSummary = { epochs: 0, frames: 0, bytesStored: 0, pauseMs: { p50: 0, p99: 0, max: 0, mean: 0 }, epochTicks: 0, missedEpochTicks: 0, missedFrameTicks: 0, stoppedBy: 'signal' };
  // Replays: a stop before the ticks are subscribed (an aborted signal) still ends them.
  const stop$ = new ReplaySubject<void>(1);
  let stopped = false;
  /** QEMU's stderr tail when it died while recording. */
  let diedWith: string | undefined;
  const stop = (why: RecordSummary['stoppedBy']) => {
    if (stopped) return;
    stopped = true;
    summary.stoppedBy = why;
    stop$.next();
    stop$.complete();
  };
  const onAbort = () => stop('signal');
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) stop('signal');
  const durationTimer = opts.durationMs !== undefined ? setTimeout(() => stop('duration'), opts.durationMs) : undefined;
  const onEvent = (e: { event: string; data?: Record<string, unknown> }) => {
    if (e.event === 'SHUTDOWN' && e.data?.guest) stop('poweroff');
  };
  vm.qmp.on('event', onEvent);
  void vm.exited.then(() => {
    if (!stopped) {
      diedWith = vm.stderrTail;
      stop('signal');
    }
  });

  let capturing = false;
  const captureEpoch = async (): Promise<Captured | undefined> => {
    await inFlight.acquire();
    try {
      const t0 = performance.now();
      await vm.pause();
      for (const d of opts.disks ?? []) d.hold();
      // The RAM scan (thread pool), the device-state migration (QEMU's migration
      // thread) and the screendump (QEMU's main loop) run at the same time.
      const deviceAndFrame = (async () => {
        const finish = await vm.startDeviceSave();
        const [device, screen] = await Promise.all([finish(), vm.grabScreen()]);
        return { device, screen };
      })();
      const [ram, { device, screen }, sound] = await Promise.all([ramFile.capture(), deviceAndFrame, opts.audio?.mark()]);
      await vm.resume();
      const pauseMs = performance.now() - t0;
      pauses.push(pauseMs);
      // This capture is appended next: the next one is compared with it.
      ramFile.accept(ram);
      // The frame is encoded while the VM runs: only taking its pixels is in the pause.
      return { kind: 'epoch', ram, device, frame: await encodePng(screen), pauseMs, sound };
    } catch (e) {
      inFlight.release();
      for (const d of opts.disks ?? []) d.release();
      if (!vm.running || stopped) return undefined; // the guest powered off or QEMU died
      // A disk whose writes could not be journaled (a full disk) stops the guest, and then
      // its capture fails: the journal's error is the cause to report.
      const journalError = opts.disks?.find((d) => d.journalError)?.journalError;
      if (journalError) throw withContext(journalError, `${journalError.message} (the VM's disk writes could not be journaled)`);
      throw e;
    }
  };
  const captureFrame = async (): Promise<Captured | undefined> => {
    try {
      const frame = await vm.screendump();
      return { kind: 'frame', frame, sound: await opts.audio?.mark() };
    } catch (e) {
      if (!vm.running || stopped) return undefined;
      throw e;
    }
  };
  /** The sound read up to a capture and not appended yet (none before the first epoch: there is nothing to bind it to). */
  const soundUpTo = (c: Captured) => {
    const a = c.sound === undefined ? undefined : opts.audio?.take(c.sound);
    if (!a || w.lastCommittedEpoch < 0) return [];
    const s = (summary.audio ??= { events: 0, samples: 0, seconds: 0, sampleRate: a.sampleRate, channels: a.channels, format: a.format });
    s.events++;
    s.samples += a.pcm.length / bytesPerFrame(a);
    s.seconds = s.samples / s.sampleRate;
    return [a];
  };
  const append = async (c: Captured | undefined): Promise<void> => {
    if (!c) return;
    if (c.kind === 'frame') {
      if (w.lastCommittedEpoch < 0) return;
      const r = await appendImages(w, { audio: soundUpTo(c), frames: [c.frame] });
      summary.frames++;
      summary.bytesStored += r.storedBytes;
      return;
    }
    try {
      const r = await appendImages(w, { audio: soundUpTo(c), memoryPages: c.ram, device: c.device, frames: [c.frame], pauseUs: Math.round(c.pauseMs * 1000) });
      summary.epochs++;
      summary.frames++;
      summary.bytesStored += r.storedBytes;
      summary.firstEpoch ??= r.epoch;
      summary.lastEpoch = r.epoch;
      opts.onEpoch?.({ epoch: r.epoch!, pauseMs: c.pauseMs, dirtyPages: r.dirtyPages, storedBytes: r.storedBytes });
    } finally {
      inFlight.release();
      for (const d of opts.disks ?? []) d.release();
    }
  };

  // Epoch ticks never wait behind frame captures: each kind drops only its own ticks.
  // Stopping ends the ticks; a capture in flight is finished and appended.
  const epochs$ = timer(0, intervalMs).pipe(
    takeUntil(stop$),
    filter(() => {
      summary.epochTicks++;
      if (capturing) summary.missedEpochTicks++;
      return true;
    }),
    exhaustMap(() => {
      capturing = true;
      return from(captureEpoch().finally(() => (capturing = false)));
    }),
  );
  let framing = false;
  const frames$ =
    fps > 0
      ? interval(1000 / fps).pipe(
          takeUntil(stop$),
          filter(() => {
            if (framing) summary.missedFrameTicks++;
            return !framing;
          }),
          exhaustMap(() => {
            framing = true;
            return from(captureFrame().finally(() => (framing = false)));
          }),
        )
      : EMPTY;
  try {
    await lastValueFrom(
      merge(epochs$, frames$).pipe(
        concatMap((c) => from(append(c))),
        map(() => undefined),
      ),
      { defaultValue: undefined },
    );
    // A last epoch at the moment of stopping (unless the VM is gone).
    if (vm.running && summary.stoppedBy !== 'poweroff' && diedWith === undefined) {
      const last = await captureEpoch();
      await append(last);
    }
  } finally {
    clearTimeout(durationTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    vm.qmp.off('event', onEvent);
    for (const d of opts.disks ?? []) d.release();
    await ramFile.close();
  }
  summary.pauseMs = {
    p50: percentile(pauses, 50),
    p99: percentile(pauses, 99),
    max: pauses.length ? Math.max(...pauses) : 0,
    mean: pauses.length ? pauses.reduce((a, b) => a + b, 0) / pauses.length : 0,
  };
  if (diedWith !== undefined) throw new TtjError(ErrorCodes.QEMU_FAILED, `QEMU died while recording: ${diedWith}`, { stderr: diedWith, summary });
  return summary;
}
