/**
 * The writer's end of the request channel of a PostgreSQL journal (docs/stores.md,
 * "Requests to the writer"): the writer's session (the one holding the writer lock)
 * listens on the journal's request channel; a request, once put together, is accepted at
 * once (so the requester knows a writer has it), run by the handler the journal writer
 * set ({@link JournalStore.serveRequests}), and answered with its result or error, every
 * answer sent from the writer's session on the requester's reply channel. Only a session
 * whose role may write the journal (insert events, delete blob rows) is served: anyone
 * connected may send a `NOTIFY`.
 */
import { ErrorCodes, TtjError, toTtjError } from '../../errors.js';
import { encodeMessage, MessageAssembler, REPLY_CHANNEL, type RequestMessage, type RequestMessageKind } from './pg-request-wire.js';

/** What the server needs of its store. */
export interface PgRequestServerOptions {
  /** Sends a message's payloads on a channel from the writer's session, in the writer's turn. */
  send(channel: string, payloads: string[]): Promise<void>;
  /** Whether the session with this server pid is there and may ask the writer (its role may write the journal). */
  mayAsk(senderPid: number): Promise<boolean>;
  /** Runs a request (the journal writer's). */
  handler(name: string, args: unknown): Promise<unknown>;
}

/** Serves the requests that arrive on the writer's session. */
export class PgRequestServer {
  private readonly assembler = new MessageAssembler();

  constructor(private readonly opts: PgRequestServerOptions) {}

  /** A notification on the request channel. */
  receive(payload: string, senderPid: number): void {
    const m = this.assembler.feed(payload, senderPid);
    if (m?.kind === 'request') void this.serve(m);
  }

  private async serve(m: RequestMessage): Promise<void> {
    const req = m.body as { name?: unknown; args?: unknown; reply?: unknown };
    if (typeof req.reply !== 'string' || !REPLY_CHANNEL.test(req.reply) || typeof req.name !== 'string') return;
    const answer = (kind: RequestMessageKind, body: unknown) => this.opts.send(req.reply as string, encodeMessage(m.id, kind, body)).catch(() => undefined);
    try {
      if (!(await this.opts.mayAsk(m.senderPid))) {
        throw new TtjError(ErrorCodes.PERMISSION, `the role of the asking session (server pid ${m.senderPid}) may not write this journal, so its writer does not run its requests`);
      }
      await answer('accepted', { pid: process.pid });
      // The accept waited for the writer's turn: an asker that gave up meanwhile (its session gone) is not served.
      if (!(await this.opts.mayAsk(m.senderPid))) return;
      const result = await this.opts.handler(req.name, req.args);
      await answer('result', result ?? null);
    } catch (e) {
      const err = toTtjError(e);
      await answer('error', { code: err.code, message: err.message, details: err.details });
    }
  }
}
