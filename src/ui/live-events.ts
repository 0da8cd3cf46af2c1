import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Journal } from '../journal/journal.js';

/** How often an idle event stream sends a comment, so proxies and the browser keep it open. */
const KEEPALIVE_MS = 15000;

/**
 * `GET /api/live?after=SEQ`: server-sent events, one `commit` event (a
 * {@link JournalCommit} as JSON) each time the journal's head moves, from this
 * process or a `ttj record` writing it, woken by the store's change notification.
 * Ends when the client goes away or `closing` aborts.
 */
export async function streamCommits(j: Journal, req: IncomingMessage, res: ServerResponse, after: number | undefined, closing: AbortSignal): Promise<void> {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  req.on('close', stop);
  closing.addEventListener('abort', stop);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': ttj live\n\n');
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  try {
    for await (const c of j.watch({ after, signal: ctl.signal })) res.write(`event: commit\ndata: ${JSON.stringify(c)}\n\n`);
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  } finally {
    clearInterval(keepalive);
    req.off('close', stop);
    closing.removeEventListener('abort', stop);
    res.end();
  }
}
