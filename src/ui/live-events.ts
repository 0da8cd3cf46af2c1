import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Journal } from '../journal/journal.js';

/** How often an idle event stream sends a comment, so proxies and the browser keep it open. */
const KEEPALIVE_MS = 15000;

/**
 * `GET /api/live?after=SEQ`: server-sent events, one `commit` event (a
 * {@link JournalCommit} as JSON) each time the journal's head moves, from this
 * process or a `ttj record` writing it, woken by the store's change notification.
 * Each event's id is its head seq: a browser that reconnects (it does on its own when
 * the stream breaks) sends it back as `Last-Event-ID`, which then takes the place of
 * `after`, so no commit is lost or sent twice. Ends when the client goes away or
 * `closing` aborts.
 */
export async function streamCommits(j: Journal, req: IncomingMessage, res: ServerResponse, after: number | undefined, closing: AbortSignal): Promise<void> {
  after = resumeAfter(req) ?? after;
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  req.on('close', stop);
  closing.addEventListener('abort', stop);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': ttj live\n\n');
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  try {
    for await (const c of j.watch({ after, signal: ctl.signal })) res.write(`id: ${c.head.seq}\nevent: commit\ndata: ${JSON.stringify(c)}\n\n`);
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
  } finally {
    clearInterval(keepalive);
    req.off('close', stop);
    closing.removeEventListener('abort', stop);
    res.end();
  }
}

/** The head seq of the last event a reconnecting browser received (its `Last-Event-ID`), if it is one. */
function resumeAfter(req: IncomingMessage): number | undefined {
  const id = req.headers['last-event-id'];
  return typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : undefined;
}
