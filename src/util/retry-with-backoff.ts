/**
 * Waiting for another process (a reader to release a journal's index, a holder to
 * serve it): try, pause, try again, the pauses doubling, until a deadline.
 */

/** A try's answer to {@link retryWithBackoff} when it did not succeed: try again. */
export class TryAgain {
  /** @param afterMs pause this long, then try again whatever the deadline (something changed for the better); default: the next backoff pause, unless the deadline passed. */
  constructor(readonly afterMs?: number) {}
}

/** Options of {@link retryWithBackoff}. */
export interface BackoffOptions {
  /** How long to keep trying, from the first try. */
  waitMs: number;
  /** The first pause; each next one doubles. Default 20 ms. */
  firstDelayMs?: number;
  /** The longest pause. */
  maxDelayMs: number;
  /** Throws the error of a wait that timed out (a try answered {@link TryAgain} past the deadline). */
  onTimeout: () => never | Promise<never>;
}

/**
 * The result of the first try of `tryOnce` that returns one. A try that answers
 * {@link TryAgain} is followed by a pause and another try; past the deadline,
 * `onTimeout` throws instead. What a try throws ends the wait.
 */
export async function retryWithBackoff<T>(tryOnce: () => Promise<T | TryAgain>, opts: BackoffOptions): Promise<T> {
  const deadline = Date.now() + opts.waitMs;
  for (let delay = opts.firstDelayMs ?? 20; ; delay = Math.min(delay * 2, opts.maxDelayMs)) {
    const r = await tryOnce();
    if (!(r instanceof TryAgain)) return r;
    if (r.afterMs !== undefined) {
      await sleep(r.afterMs);
      continue;
    }
    if (Date.now() > deadline) return await opts.onTimeout();
    await sleep(delay);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
