/** Waiting in tests: polling for a condition with a deadline, and plain sleeps. */

/** Polls `f` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(f: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
