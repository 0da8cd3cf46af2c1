/**
 * The recorded sound beside the frames while playing (`/api/audio`): a clip from the frame
 * where playing starts to the last frame; the frames advance once it plays. A scrub or
 * step while playing starts it again from the new frame (once the scrubber rests), the
 * frames waiting for it; pausing stops it; as the frames advance, a clip that drifted
 * from them is moved back in line.
 */
import { audioUrl } from './api.js';
import type { FrameEntry } from './types.js';

/** A clip is started again this long after the last scrub (scrubbing moves through many frames). */
const RESTART_MS = 150;
/** The frames wait at most this long for the sound to start, ms. */
const READY_MS = 1000;
/** The most the sound may drift from the frame shown before it is moved back, s. */
const MAX_DRIFT_S = 0.25;

/** What the page plays now (also for the tests: `window.ttjSound()`). */
export interface SoundState {
  /** A clip is loaded and not paused. */
  playing: boolean;
  /** The frame the clip starts at (its time 0). */
  startFrame?: number;
  /** That frame's time, µs. */
  startUs?: number;
  /** The clip's position, s. */
  currentTime?: number;
  /** Clips started since the page opened. */
  clips: number;
}

export class Sound {
  private el: HTMLAudioElement | undefined;
  private startFrame: number | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private clips = 0;

  constructor(private readonly frames: () => FrameEntry[]) {}

  /**
   * Plays from frame `i` to the last frame, after `delayMs` (stopping what plays now at
   * once). `ready` is called once the sound plays (the frames go on from `i` then, in step
   * with it), or when there is none to play (nothing recorded there: the server answers
   * 204), or after {@link READY_MS} at most.
   */
  start(i: number, ready: () => void, delayMs = 0): void {
    this.stop();
    const go = () => {
      const last = this.frames().length - 1;
      if (i >= last) return ready();
      const el = new Audio(audioUrl(i, last));
      this.el = el;
      this.startFrame = i;
      this.clips++;
      let called = false;
      const once = () => {
        clearTimeout(this.pending);
        if (called || this.el !== el) return;
        called = true;
        ready();
      };
      el.addEventListener('playing', once, { once: true });
      el.addEventListener('error', once, { once: true });
      this.pending = setTimeout(once, READY_MS);
      el.play().catch(once);
    };
    if (delayMs > 0) this.pending = setTimeout(go, delayMs);
    else go();
  }

  /** After a scrub or step while playing: the sound goes on from frame `i` once the scrubber rests, then `ready`. */
  restart(i: number, ready: () => void): void {
    this.start(i, ready, RESTART_MS);
  }

  stop(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    if (this.el) {
      this.el.pause();
      this.el.removeAttribute('src');
      this.el.load();
    }
    this.el = undefined;
    this.startFrame = undefined;
  }

  /** Frame `i` is shown while playing: a clip that drifted from it by more than {@link MAX_DRIFT_S} is moved to it. */
  follow(i: number): void {
    const el = this.el;
    const f = this.frames();
    if (!el || el.paused || el.readyState < 2 || this.startFrame === undefined || !f[i]) return;
    const want = (f[i].timeUs - f[this.startFrame]!.timeUs) / 1e6;
    if (Math.abs(el.currentTime - want) > MAX_DRIFT_S && want < el.duration) el.currentTime = want;
  }

  state(): SoundState {
    const el = this.el;
    const start = this.startFrame === undefined ? undefined : this.frames()[this.startFrame];
    return { playing: !!el && !el.paused, startFrame: this.startFrame, startUs: start?.timeUs, currentTime: el?.currentTime, clips: this.clips };
  }
}
