/**
 * Runs long work (record, restore, nbd) with an AbortSignal that SIGINT or SIGTERM
 * aborts, so the work can finish what is in flight and return normally (exit 0).
 */
export async function untilStopped<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  // Kept until the work is done: a repeated signal (Ctrl-C pressed twice, or delivered
  // both by the terminal and by bin/run.js forwarding it) must not kill the process
  // half-way through committing.
  const stop = () => ctl.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await work(ctl.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
