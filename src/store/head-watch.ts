/**
 * Watching a store's head move, without polling: the embedded store's LevelDB index
 * directory changes on every append (its write-ahead log), so a file-system watch
 * (inotify on Linux) wakes the watcher, which then reads the head. A slow safety check
 * covers file systems that do not report changes (network file systems).
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
export async function* watchHead(dir: string, readHead: () => Promise<StoreHead | undefined>, after: number, isClosed: () => boolean, opts: WatchHeadOptions = {}): AsyncIterable<StoreHead> {
  let pending = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    pending = true;
    wake?.();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, poke);
    watcher.on('error', () => undefined); // the safety check goes on
  } catch {
    /* no change notification here: the safety check alone */
  }
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
    watcher?.close();
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', poke);
  }
}
