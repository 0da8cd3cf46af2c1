/**
 * Asking the live writer of a journal to run work only a writer may do (a prune, while
 * `ttj record` or `ttj nbd` holds the writer lock): one front door, the transport picked
 * by the store. An embedded journal's writer is asked over the reader protocol it serves
 * (src/store/kv-server.ts, `run` requests); a PostgreSQL journal's writer on the journal's
 * request channel (src/store/pg/pg-ask-writer.ts; docs/stores.md, "Requests to the writer").
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { readerSocketName } from './kv-wire.js';
import { isPgLocation } from './pg/pg-location.js';
import { RemoteKv } from './remote-kv.js';

/**
 * Runs `name` with `args` in the process holding the journal at `location` and returns its result.
 * @throws TtjError LOCKED (no process answers, or it does not run requests), WRITER_GONE (it went away meanwhile), and what the work throws.
 */
export async function askWriter(location: string, name: string, args: unknown): Promise<unknown> {
  if (isPgLocation(location)) return (await import('./pg/pg-ask-writer.js')).askPgWriter(location, name, args);
  let r: RemoteKv;
  try {
    r = await RemoteKv.connect(readerSocketName(location), 2000);
  } catch (e) {
    throw new TtjError(ErrorCodes.LOCKED, `another process holds the journal ${location} and does not answer`, { path: location }, { cause: e });
  }
  try {
    return await r.run(name, args);
  } finally {
    await r.close();
  }
}
