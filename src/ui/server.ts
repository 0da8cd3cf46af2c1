import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { isUrlLocation } from '../store/open-store.js';
import { UiJobs } from './jobs.js';
import { sendError, sendStatus } from './http-reply.js';
import { OpenFamily } from './open-family.js';
import { route } from './routes.js';
import { newToken, tokenMatches } from './token.js';
import { VmSession } from './vm-session.js';
import type { TrustedKey } from '../journal/signing-key.js';

/** Options of {@link startUiServer}. */
export interface UiServerOptions {
  /** TCP port on 127.0.0.1 (default 0: a random free port). */
  port?: number;
  /** The access token (default: a new random one). */
  token?: string;
  /** The password of an encrypted journal (also for the VMs restored from it). */
  password?: string;
  /** A trusted public key (`--trust`): the panel's verification checks the journal's signatures against it. */
  trust?: TrustedKey;
  /** Where the page's Fold and Export buttons write, one directory per job (default: {@link defaultUiOut}). */
  out?: string;
}

/** The default output directory of `ttj ui`: beside the journal, `JOURNAL-ui-out` (for a URL: `ttj-ui-out` in the working directory). */
function defaultUiOut(location: string): string {
  return isUrlLocation(location) ? resolve('ttj-ui-out') : `${resolve(location)}-ui-out`;
}

/** A running `ttj ui` server (see {@link startUiServer}). */
export interface UiServer {
  /** The page's URL, with the token. */
  url: string;
  port: number;
  token: string;
  /** Where the page's jobs write (absolute). */
  out: string;
  /** Stops the server: closes its connections and event streams, stops a VM restored from the page (a fork's recorder commits its last epoch), waits for a running fold or export, closes the journals. */
  close(): Promise<void>;
}

/**
 * `ttj ui`: serves the web timeline of the journal at `location`, and of its family of
 * forks (docs/ui.md, "Branches"), on 127.0.0.1. Every
 * request must carry the server's random token (`?token=`), else it gets 403: the
 * port is reachable by every local user, the token only by whoever started it.
 * @throws TtjError NOT_A_JOURNAL (and what {@link Journal.open} throws); BAD_ARGUMENT when the port is taken.
 */
export async function startUiServer(location: string, opts: UiServerOptions = {}): Promise<UiServer> {
  const closing = new AbortController();
  const family = await OpenFamily.open(location, opts.password, closing.signal, opts.trust);
  const token = opts.token ?? newToken();
  const vm = new VmSession(opts.password);
  const out = opts.out ? resolve(opts.out) : defaultUiOut(location);
  const jobs = new UiJobs(opts.password, out, family.startId);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!tokenMatches(url, token)) return sendStatus(res, 403, 'forbidden: this ttj ui needs the token in its URL');
    route({ family, vm, closing: closing.signal, token, password: opts.password, jobs }, req, res, url).catch((e: unknown) => sendError(res, e));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    await family.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    out,
    close: () =>
      (closed ??= (async () => {
        closing.abort();
        await vm.stop();
        await jobs.idle();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await family.close();
      })()),
  };
}
