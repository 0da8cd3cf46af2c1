/**
 * Watching a store's head move, without polling: the embedded store's LevelDB index
 * directory changes on every append (its write-ahead log), so a file-system watch
 * (inotify on Linux) wakes the watcher, which then reads the head. A slow safety check
 * covers file systems that do not report changes (network file systems). Other
 * backends wake it with their own notification ({@link watchHeadWith}: PostgreSQL's
 * LISTEN/NOTIFY).
 */
import { watch, type FSWatcher } from 'node:fs';
import type { StoreHead } from './store.js';

/** Safety check interval for file systems without change notification. */
const HEAD_WATCH_FALLBACK_MS = 2000;

/** Options of {@link watchHead}. */
export interface WatchHeadOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/**
 * The head each time it moves past `after`, woken by changes under `dir`.
 * Ends when `signal` aborts or `isClosed()` turns true.
 */
export function watchHead(dir: string, readHead: () => Promise<StoreHead | undefined>, after: number, isClosed: () => boolean, opts: WatchHeadOptions = {}): AsyncIterable<StoreHead> {
  return watchHeadWith((poke) => watchDir(dir, poke), readHead, after, isClosed, opts);
}

/** Calls `poke` on every change under `dir` (nothing where the file system cannot tell); returns the stop. */
function watchDir(dir: string, poke: () => void): () => void {
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, poke);
    watcher.on('error', () => undefined); // the safety check goes on
  } catch {
    /* no change notification here: the safety check alone */
  }
  return () => watcher?.close();
}

/**
 * The head each time it moves past `after`, read again whenever `subscribe`'s
 * notification pokes (and every {@link HEAD_WATCH_FALLBACK_MS} as a safety check).
 * `subscribe` returns its stop (sync or async). Ends when `signal` aborts or `isClosed()` turns true.
 */
export async function* watchHeadWith(
  subscribe: (poke: () => void) => (() => void | Promise<void>) | Promise<() => void | Promise<void>>,
  readHead: () => Promise<StoreHead | undefined>,
  after: number,
  isClosed: () => boolean,
  opts: WatchHeadOptions = {},
): AsyncIterable<StoreHead> {
  let pending = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    pending = true;
    wake?.();
  };
  const stop = await subscribe(poke);
  const timer = setInterval(poke, HEAD_WATCH_FALLBACK_MS);
  timer.unref();
  opts.signal?.addEventListener('abort', poke);
  try {
    for (;;) {
      if (!pending) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      pending = false;
      if (opts.signal?.aborted || isClosed()) return;
      const h = await readHead();
      if (h && h.seq > after) {
        after = h.seq;
        yield h;
      }
    }
  } finally {
    await stop();
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', poke);
  }
}
