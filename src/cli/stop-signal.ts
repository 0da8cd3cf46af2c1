/**
 * Runs long work (record, restore, nbd) with an AbortSignal that SIGINT or SIGTERM
 * aborts, so the work can finish what is in flight and return normally (exit 0).
 */
export async function untilStopped<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(ctl.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
