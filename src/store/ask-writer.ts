/**
 * Asking the live writer of an embedded journal to run work only a writer may do (a
 * prune, while `ttj record` or `ttj nbd` holds the writer lock), over the reader
 * protocol it serves (src/store/kv-server.ts, `run` requests).
 */
import { ErrorCodes, TtjError } from '../errors.js';
import { readerSocketName } from './kv-wire.js';
import { RemoteKv } from './remote-kv.js';

/**
 * Runs `name` with `args` in the process holding the journal at `dir` and returns its result.
 * @throws TtjError LOCKED (no process answers, or it does not run requests), WRITER_GONE (it went away meanwhile), and what the work throws.
 */
export async function askWriter(dir: string, name: string, args: unknown): Promise<unknown> {
  let r: RemoteKv;
  try {
    r = await RemoteKv.connect(readerSocketName(dir), 2000);
  } catch (e) {
    throw new TtjError(ErrorCodes.LOCKED, `another process holds the journal ${dir} and does not answer`, { path: dir }, { cause: e });
  }
  try {
    return await r.run(name, args);
  } finally {
    await r.close();
  }
}
