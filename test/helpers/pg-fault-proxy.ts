/**
 * A fault injector for the PostgreSQL store's tests: a TCP proxy (node:net) between ttj
 * and a real PostgreSQL server that forwards the wire protocol untouched, except that,
 * when armed, it cuts the connection at the client's COMMIT (the simple-query 'Q'
 * message whose text is COMMIT):
 * - `before`: the COMMIT is not forwarded (the server sees the connection end inside
 *   the transaction and rolls it back);
 * - `after`: the COMMIT is forwarded, and the connection is cut when the server's
 *   answer comes, which the client never receives (the commit happened, the client
 *   does not know).
 * After a cut it can refuse every new connection (a server that stays unreachable).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Where a cut falls relative to the COMMIT. */
export type CutMode = 'before' | 'after';

/** Protocol codes of the untyped requests that may precede the startup message (SSL, GSS encryption). */
const PRE_STARTUP_CODES = new Set([80877103, 80877104]);

/** A running proxy: `port` on 127.0.0.1 forwards to the server's `target`. */
export class PgFaultProxy {
  private armed: { mode: CutMode; refuseAfter: boolean } | undefined;
  private refusing = false;
  private readonly sockets = new Set<Socket>();
  /** COMMITs cut so far. */
  cuts = 0;
  /** COMMITs forwarded so far. */
  commits = 0;
  /** Connections accepted so far (refused ones not counted). */
  connections = 0;

  private readonly server: Server;
  /** The port it listens on (127.0.0.1). */
  port = 0;

  private constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Starts a proxy to the server listening at 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<PgFaultProxy> {
    const proxy = new PgFaultProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  /** Cuts the connection at the next COMMIT any client sends; with `refuseAfter`, refuses every connection after that. */
  arm(mode: CutMode, opts: { refuseAfter?: boolean } = {}): void {
    this.armed = { mode, refuseAfter: !!opts.refuseAfter };
  }

  /** Lets connections through again (after a cut with `refuseAfter`). */
  reopen(): void {
    this.refusing = false;
  }

  /** Stops the proxy and cuts every connection through it. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    this.connections++;
    const server = connect(this.targetPort, '127.0.0.1');
    this.sockets.add(client).add(server);
    const cut = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', cut).on('close', cut);
    server.on('error', cut).on('close', cut);
    client.setNoDelay(true);
    server.setNoDelay(true);
    /** Set when the COMMIT went through and the next bytes from the server are its answer, to be swallowed. */
    let swallowAnswer = false;
    server.on('data', (d: Buffer) => {
      if (swallowAnswer) return cut();
      client.write(d);
    });
    const parser = new ClientMessages();
    client.on('data', (d: Buffer) => {
      for (const msg of parser.push(d)) {
        const a = this.armed;
        if (a && isCommit(msg)) {
          this.armed = undefined;
          this.cuts++;
          if (a.refuseAfter) this.refusing = true;
          if (a.mode === 'before') return cut();
          this.commits++;
          swallowAnswer = true;
          server.write(msg);
          continue;
        }
        if (isCommit(msg)) this.commits++;
        server.write(msg);
      }
    });
  }
}

/** True for a simple-query message whose text is COMMIT (any case, optional semicolon). */
function isCommit(msg: Buffer): boolean {
  if (msg[0] !== 0x51 /* 'Q' */ || msg.length < 6) return false;
  const text = msg.subarray(5, msg.length - 1).toString('utf8');
  return /^\s*(COMMIT|END)\s*;?\s*$/i.test(text);
}

/** Splits the client's byte stream into whole protocol messages (the untyped startup ones first). */
class ClientMessages {
  private buf: Buffer = Buffer.alloc(0);
  private started = false;

  push(d: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const out: Buffer[] = [];
    for (;;) {
      const typed = this.started ? 1 : 0;
      if (this.buf.length < typed + 4) break;
      const len = this.buf.readUInt32BE(typed) + typed;
      if (this.buf.length < len) break;
      const msg = this.buf.subarray(0, len);
      if (!this.started && !PRE_STARTUP_CODES.has(msg.readUInt32BE(4))) this.started = true;
      out.push(msg);
      this.buf = this.buf.subarray(len);
    }
    return out;
  }
}
