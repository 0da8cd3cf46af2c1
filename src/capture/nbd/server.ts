/**
 * The NBD server: accepts connections on a unix socket or TCP, runs the fixed-newstyle
 * handshake ({@link negotiate}) and then a transmission session per connection
 * ({@link TransmissionSession}). Connections are independent: a client that sends garbage,
 * asks for an unknown export or drops mid-request loses only its own connection.
 */
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { ErrorCodes, TtjError } from '../../errors.js';
import type { BlockDevice } from './block-device.js';
import * as C from './constants.js';
import { HandshakeError, negotiate } from './handshake.js';
import { PeerGoneError, SocketReader } from './socket-reader.js';
import { TransmissionSession, type NbdRequestInfo, type SessionEnd } from './transmission.js';

/** Options of {@link startNbdServer}. Give `socketPath` or `port` (not both); neither = TCP on an ephemeral port. */
export interface NbdServerOptions {
  /** Export name → device. A function may return a different device per call (it is called once per handshake option). */
  exports: ((name: string) => BlockDevice | undefined) | ReadonlyMap<string, BlockDevice>;
  /** Names for NBD_OPT_LIST. Default: the Map's keys, or none for a function. */
  listExports?: () => string[];
  /** The export a client gets when it asks for the empty name "". Default: none (unknown export). */
  defaultExport?: string;
  /** Listen on this unix socket (a stale socket file there is replaced). */
  socketPath?: string;
  /** Listen on this TCP port (0 = ephemeral; see {@link NbdServer.port}). */
  port?: number;
  /** TCP host to bind. Default 127.0.0.1. */
  host?: string;
  /** Largest READ/WRITE payload accepted and advertised (NBD_INFO_BLOCK_SIZE). Default 32 MiB. */
  maxPayload?: number;
  /** Requests outstanding at once per connection. Default 64; 1 = strictly one at a time. */
  maxInFlight?: number;
  /** Payload bytes outstanding at once per connection. Default 64 MiB. */
  maxInFlightBytes?: number;
  /** A client must finish the handshake within this many ms. Default 30 000. */
  handshakeTimeoutMs?: number;
  /** Connections beyond this many are closed at once. Default 64. */
  maxConnections?: number;
  /** `close()` destroys connections still open after this many ms. Default 5 000. */
  closeTimeoutMs?: number;
}

/** Emitted as 'connection'. */
export interface NbdConnectionEvent {
  connection: number;
  remote: string;
}
/** Emitted as 'negotiated' once a connection enters transmission. */
export interface NbdNegotiatedEvent {
  connection: number;
  export: string;
  flags: number;
}
/** Emitted as 'disconnect'. */
export interface NbdDisconnectEvent {
  connection: number;
  export?: string;
  /** How it ended: a clean NBD_CMD_DISC, the client going away, a protocol error, the server closing. */
  reason: SessionEnd | 'handshake-failed' | 'handshake-aborted';
  /** For failures: what went wrong. */
  message?: string;
  /**
   * Who received the requests of the transmission phase: the native addon's pump (a
   * thread of its own) or Node's socket reads (the fallback, or TTJ_NBD_RECEIVE=node).
   */
  receive?: 'native' | 'node';
}

/** The events an {@link NbdServer} emits (connections, requests served, errors), with their arguments. */
export interface NbdServerEvents {
  connection: [NbdConnectionEvent];
  negotiated: [NbdNegotiatedEvent];
  /** Every request handled (only computed when someone listens). */
  request: [NbdRequestInfo];
  disconnect: [NbdDisconnectEvent];
}

interface Conn {
  id: number;
  socket: net.Socket;
  session?: TransmissionSession;
  done?: Promise<void>;
}

/** A running NBD server. */
export class NbdServer extends EventEmitter<NbdServerEvents> {
  /** The URL of the default export (`nbd+unix:///?socket=PATH` or `nbd://HOST:PORT/`). */
  address = '';
  /** The unix socket path, when listening on one. */
  socketPath: string | undefined;
  /** The TCP host, when listening on TCP. */
  host: string | undefined;
  /** The TCP port actually bound, when listening on TCP. */
  port: number | undefined;

  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private nextId = 0;
  private closing: Promise<void> | undefined;
  private readonly lookup: (name: string) => BlockDevice | undefined;
  private readonly list: () => string[];
  private readonly maxPayload: number;

  /** @internal use {@link startNbdServer} */
  constructor(private readonly opts: NbdServerOptions) {
    super();
    const exp = opts.exports;
    const get = typeof exp === 'function' ? exp : (name: string) => exp.get(name);
    this.lookup = (name: string) => {
      const key = name === '' && opts.defaultExport !== undefined ? opts.defaultExport : name;
      try {
        return get(key);
      } catch {
        return undefined;
      }
    };
    this.list = opts.listExports ?? (typeof exp === 'function' ? () => [] : () => [...exp.keys()]);
    this.maxPayload = opts.maxPayload ?? C.DEFAULT_MAX_PAYLOAD;
    this.server = net.createServer({ noDelay: true }, (s) => this.accept(s));
  }

  /** Number of open connections. */
  get connections(): number {
    return this.conns.size;
  }

  /** The URL of export `name`: `nbd+unix:///NAME?socket=PATH` or `nbd://HOST:PORT/NAME`. */
  urlFor(name: string): string {
    const n = encodeURIComponent(name);
    if (this.socketPath !== undefined) return `nbd+unix:///${n}?socket=${this.socketPath.replace(/[%&#+ ]/g, (c) => encodeURIComponent(c))}`;
    const h = this.host!.includes(':') ? `[${this.host}]` : this.host;
    return `nbd://${h}:${this.port}/${n}`;
  }

  /** @internal */
  async listen(): Promise<void> {
    const { socketPath, port } = this.opts;
    if (socketPath !== undefined && port !== undefined) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'give an NBD socket path or a port, not both');
    }
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `bad NBD port ${port}`);
    }
    if (!Number.isInteger(this.maxPayload) || this.maxPayload < 4096 || this.maxPayload > 0x7fffffff) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, `bad NBD maximum payload ${this.maxPayload}`);
    }
    if (socketPath !== undefined) await removeStaleSocket(socketPath);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(new TtjError(ErrorCodes.NBD_ERROR, `cannot listen for NBD on ${socketPath ?? `${this.opts.host ?? '127.0.0.1'}:${port ?? 0}`}: ${e.message}`, { path: socketPath }, { cause: e }));
      };
      this.server.once('error', onError);
      const ready = (): void => {
        this.server.off('error', onError);
        resolve();
      };
      if (socketPath !== undefined) this.server.listen(socketPath, ready);
      else this.server.listen(port ?? 0, this.opts.host ?? '127.0.0.1', ready);
    });
    this.server.on('error', () => undefined); // accept errors (EMFILE...) must not crash the process
    if (socketPath !== undefined) {
      this.socketPath = socketPath;
    } else {
      const a = this.server.address() as net.AddressInfo;
      this.host = this.opts.host ?? '127.0.0.1';
      this.port = a.port;
    }
    this.address = this.urlFor(this.opts.defaultExport ?? '');
  }

  /**
   * Stop accepting, let every connection finish its outstanding requests (further requests
   * get NBD_ESHUTDOWN, handshakes NBD_REP_ERR_SHUTDOWN), close them, and resolve. Connections
   * still open after `closeTimeoutMs` are destroyed. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.conns) {
      if (c.session) c.session.shutdown();
      else c.socket.destroy();
    }
    const all = Promise.all([...this.conns].map((c) => c.done));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.closeTimeoutMs ?? 5000);
    });
    if ((await Promise.race([all, timeout])) === 'timeout') {
      for (const c of this.conns) c.socket.destroy();
      await all;
    }
    clearTimeout(timer);
    await stopped;
    if (this.socketPath !== undefined) await fsp.rm(this.socketPath, { force: true }).catch(() => undefined);
  }

  private accept(socket: net.Socket): void {
    const id = ++this.nextId;
    socket.on('error', () => undefined);
    if (this.closing || this.conns.size >= (this.opts.maxConnections ?? 64)) {
      socket.destroy();
      return;
    }
    const conn: Conn = { id, socket };
    this.conns.add(conn);
    this.emit('connection', { connection: id, remote: socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix' });
    conn.done = this.serve(conn).finally(() => {
      this.conns.delete(conn);
    });
  }

  private async serve(conn: Conn): Promise<void> {
    const { socket, id } = conn;
    const reader = new SocketReader(socket);
    socket.setTimeout(this.opts.handshakeTimeoutMs ?? 30_000, () => socket.destroy());
    let negotiated;
    try {
      negotiated = await negotiate(socket, reader, {
        lookup: this.lookup,
        list: this.list,
        maxPayload: this.maxPayload,
        shuttingDown: () => this.closing !== undefined,
      });
    } catch (e) {
      const soft = e instanceof HandshakeError && e.soft;
      if (soft) await endSocket(socket);
      else socket.destroy();
      await closed(socket);
      this.emit('disconnect', {
        connection: id,
        reason: soft ? 'handshake-aborted' : 'handshake-failed',
        message: e instanceof PeerGoneError ? 'client went away during the handshake' : (e as Error).message,
      });
      return;
    }
    socket.setTimeout(0);
    const { name, device, flags } = negotiated;
    this.emit('negotiated', { connection: id, export: name, flags });
    const session = new TransmissionSession(socket, reader, {
      connection: id,
      name,
      device,
      maxPayload: this.maxPayload,
      maxInFlight: Math.max(1, this.opts.maxInFlight ?? 64),
      maxInFlightBytes: Math.max(this.maxPayload, this.opts.maxInFlightBytes ?? 64 * 1024 * 1024),
      onRequest: (info) => {
        if (this.listenerCount('request') > 0) this.emit('request', info);
      },
    });
    conn.session = session;
    if (this.closing) session.shutdown();
    let reason: SessionEnd;
    try {
      reason = await session.run();
    } catch (e) {
      reason = 'protocol-error';
      session.protocolError = (e as Error).message;
    }
    if (reason === 'peer-gone') socket.destroy();
    else await endSocket(socket);
    await closed(socket);
    this.emit('disconnect', { connection: id, export: name, reason, message: session.protocolError, receive: session.receivedNatively ? 'native' : 'node' });
  }
}

/** Half-close after pending replies are written; destroy if the client does not close within 2 s. */
function endSocket(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => socket.destroy(), 2000);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    socket.end();
    socket.resume(); // drain whatever the client still sends so 'end' (and then 'close') arrives
  });
}

function closed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await fsp.lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new TtjError(ErrorCodes.BAD_ARGUMENT, `NBD socket path exists and is not a socket: ${path}`, { path });
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new TtjError(ErrorCodes.NBD_ERROR, `another server is listening on ${path}`, { path });
  await fsp.rm(path, { force: true });
}

/** Start an NBD server; resolves once it listens. */
export async function startNbdServer(opts: NbdServerOptions): Promise<NbdServer> {
  const server = new NbdServer(opts);
  await server.listen();
  return server;
}
