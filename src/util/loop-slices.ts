/**
 * Long work on a process's event loop cut into slices, so that what else the process
 * does (a writer's appends while it runs a prune for `ttj prune`) goes on between them.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

/** Longest a slice runs before it gives the loop back (ms). */
const SLICE_MS = 8;

/** A clock of slices: `await slices.pause()` often; it gives the loop back once a slice has run {@link SLICE_MS}. */
export class LoopSlices {
  private start = performance.now();

  /** Gives the event loop a turn (timers, I/O) when this slice has run long enough; otherwise nothing. */
  async pause(): Promise<void> {
    if (performance.now() - this.start < SLICE_MS) return;
    await nextTurn();
    this.start = performance.now();
  }
}
