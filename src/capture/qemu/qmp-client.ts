/**
 * A client of QEMU's machine protocol (QMP) over a unix socket: line-delimited JSON,
 * the greeting, `qmp_capabilities`, commands matched to their replies by `id`, and
 * asynchronous events.
 */
import { EventEmitter, on } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ErrorCodes, TtjError } from '../../errors.js';

/** A QMP event (`{"event": ..., "data": ..., "timestamp": ...}`). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** The greeting QEMU sends on connect. */
export interface QmpGreeting {
  QMP: {
    version?: { qemu?: { major: number; minor: number; micro: number }; package?: string };
    capabilities?: string[];
  };
}

/** The iterator of {@link QmpClient.events}; `return()` stops listening. */
export type QmpEventIterator = AsyncIterableIterator<QmpEvent> & { return(): Promise<IteratorResult<QmpEvent>> };

/** Default time a command may take before the client gives up on it. */
const QMP_TIMEOUT_MS = 30000;

interface Pending {
  cmd: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * One QMP connection. Commands run concurrently (each gets an `id`); events are
 * emitted as `'event'`, and are also available through {@link QmpClient.events} and
 * {@link QmpClient.waitEvent}.
 *
 * Errors: a command QEMU rejects → TtjError QMP_ERROR (details `qmpClass`, `desc`,
 * `command`); no reply in time, or QEMU gone → TtjError QEMU_FAILED.
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private onGreeting: ((g: QmpGreeting) => void) | undefined;
  private isClosed = false;
  /** QEMU's version from the greeting (`7.2.22`), empty before connect completes. */
  version = '';
  /** The greeting QEMU sent. */
  greeting: QmpGreeting | undefined;
  /** Resolves when the connection closes (QEMU quit or died, or {@link close}). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    super();
    this.setMaxListeners(64);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', () => undefined); // 'close' follows
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new TtjError(ErrorCodes.QEMU_FAILED, `QEMU closed the QMP connection during ${p.cmd}`, { command: p.cmd }));
        }
        this.pending.clear();
        this.emit('close');
        resolve();
      }),
    );
  }

  /**
   * Connects to the QMP socket at `path`, retrying while it does not exist yet or
   * refuses (QEMU is starting), reads the greeting and negotiates capabilities.
   * @throws TtjError QEMU_FAILED when no QMP server answers within `timeoutMs`.
   */
  static async connect(path: string, timeoutMs = 10000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() <= deadline) {
      let client: QmpClient | undefined;
      try {
        const s = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', (e) => {
            s.destroy();
            reject(e);
          });
        });
        client = new QmpClient(s);
        const g = await client.waitGreeting(Math.max(100, deadline - Date.now()));
        client.greeting = g;
        const v = g.QMP.version?.qemu;
        if (v) client.version = `${v.major}.${v.minor}.${v.micro}`;
        await client.execute('qmp_capabilities', undefined, Math.max(100, deadline - Date.now()));
        return client;
      } catch (e) {
        client?.close();
        last = e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const why = last instanceof Error ? last.message : String(last);
    throw new TtjError(ErrorCodes.QEMU_FAILED, `cannot reach QEMU's QMP socket ${path}: ${why}`, { path }, { cause: last });
  }

  private waitGreeting(timeoutMs: number): Promise<QmpGreeting> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no QMP greeting')), timeoutMs);
      this.once('close', () => reject(new Error('closed before the QMP greeting')));
      this.onGreeting = (g) => {
        clearTimeout(t);
        resolve(g);
      };
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not QMP; ignore
    }
    if (msg.QMP !== undefined) {
      this.onGreeting?.(msg as unknown as QmpGreeting);
      this.onGreeting = undefined;
    } else if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
    } else if (msg.id !== undefined) {
      const p = this.pending.get(String(msg.id));
      if (!p) return;
      this.pending.delete(String(msg.id));
      clearTimeout(p.timer);
      if (msg.error) {
        const err = msg.error as { class?: string; desc?: string };
        p.reject(
          new TtjError(ErrorCodes.QMP_ERROR, `QMP ${p.cmd} failed: ${err.desc ?? 'error'} (${err.class ?? 'GenericError'})`, {
            qmpClass: err.class,
            desc: err.desc,
            command: p.cmd,
          }),
        );
      } else p.resolve(msg.return);
    }
  }

  /**
   * Runs a QMP command and returns its `return` value.
   * @param cmd The command, e.g. `query-status`.
   * @param args Its `arguments`, if any.
   * @param timeoutMs How long to wait for the reply.
   * @throws TtjError QMP_ERROR (QEMU rejected the command), QEMU_FAILED (QEMU went away or did not answer in time).
   */
  execute<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs = QMP_TIMEOUT_MS): Promise<T> {
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      if (this.isClosed || this.socket.destroyed) {
        reject(new TtjError(ErrorCodes.QEMU_FAILED, `QEMU is gone (QMP ${cmd})`, { command: cmd }));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TtjError(ErrorCodes.QEMU_FAILED, `QMP ${cmd}: no reply from QEMU in ${timeoutMs} ms`, { command: cmd }));
      }, timeoutMs);
      this.pending.set(id, { cmd, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify(args ? { execute: cmd, arguments: args, id } : { execute: cmd, id }) + '\n');
    });
  }

  /** Runs a human monitor command (e.g. `xp /1wx 0x10000`) and returns its text output. */
  hmp(command: string, timeoutMs?: number): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': command }, timeoutMs);
  }

  /**
   * Waits for the next event named `name` (and matching `filter`, if given).
   * @throws TtjError QEMU_FAILED on timeout or when the connection closes first.
   */
  waitEvent(name: string, opts: { timeoutMs?: number; filter?: (e: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    const timeoutMs = opts.timeoutMs ?? QMP_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name || (opts.filter && !opts.filter(e))) return;
        done();
        resolve(e);
      };
      const onClose = () => {
        done();
        reject(new TtjError(ErrorCodes.QEMU_FAILED, `QEMU closed the QMP connection while ttj waited for ${name}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new TtjError(ErrorCodes.QEMU_FAILED, `no QMP event ${name} in ${timeoutMs} ms`));
      }, timeoutMs);
      if (this.isClosed) return onClose();
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /**
   * The events from this call on (buffered until read), as an async iterator; it ends
   * when the connection closes, `signal` aborts, or the loop breaks.
   */
  events(signal?: AbortSignal): QmpEventIterator {
    const ac = new AbortController();
    const stop = () => ac.abort();
    if (this.isClosed) ac.abort();
    this.once('close', stop);
    signal?.addEventListener('abort', stop, { once: true });
    // on() listens from now on, not from the first next().
    const inner = on(this, 'event', { signal: ac.signal });
    const cleanup = () => {
      this.off('close', stop);
      signal?.removeEventListener('abort', stop);
    };
    const done = { value: undefined, done: true } as IteratorReturnResult<undefined>;
    const iter: QmpEventIterator = {
      next: async () => {
        try {
          const r = await inner.next();
          if (r.done) {
            cleanup();
            return done;
          }
          return { value: (r.value as [QmpEvent])[0], done: false };
        } catch (e) {
          cleanup();
          if ((e as Error).name === 'AbortError') return done;
          throw e;
        }
      },
      return: async () => {
        cleanup();
        await inner.return?.();
        return done;
      },
      [Symbol.asyncIterator]() {
        return iter;
      },
    };
    return iter;
  }

  /** Closes the connection (QEMU keeps running). */
  close(): void {
    this.socket.destroy();
  }
}
