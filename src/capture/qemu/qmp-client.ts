import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { ErrorCodes, TtjError } from '../../errors.js';

/** A QMP event (`{"event": ..., "data": ..., "timestamp": ...}`). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

interface Pending {
  cmd: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * A QMP client over a unix socket: line-delimited JSON, commands matched to replies
 * by id, asynchronous events emitted as 'event'. Errors become TtjError QMP_ERROR.
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  /** QEMU's version from the greeting. */
  version = '';

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new TtjError(ErrorCodes.QEMU_FAILED, `QEMU closed the QMP connection during ${p.cmd}`));
      }
      this.pending.clear();
      this.emit('close');
    });
    socket.on('error', () => undefined);
  }

  /** Connects to `path`, retrying until `timeoutMs`, and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 10000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const s = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const c = new QmpClient(s);
        const greeting = await c.waitGreeting(timeoutMs);
        const v = (greeting.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } })?.version?.qemu;
        if (v) c.version = `${v.major}.${v.minor}.${v.micro}`;
        await c.execute('qmp_capabilities');
        return c;
      } catch (e) {
        if (Date.now() > deadline) throw new TtjError(ErrorCodes.QEMU_FAILED, `cannot reach QEMU's QMP socket ${path}: ${(e as Error).message}`, { path }, { cause: e });
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  private greeting: ((g: Record<string, unknown>) => void) | undefined;

  private waitGreeting(timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no QMP greeting')), timeoutMs);
      this.greeting = (g) => {
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
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.QMP && this.greeting) {
        this.greeting(msg);
        this.greeting = undefined;
      } else if (typeof msg.event === 'string') {
        this.emit('event', msg as unknown as QmpEvent);
      } else if (msg.id !== undefined) {
        const p = this.pending.get(String(msg.id));
        if (!p) continue;
        this.pending.delete(String(msg.id));
        clearTimeout(p.timer);
        if (msg.error) {
          const err = msg.error as { class?: string; desc?: string };
          p.reject(new TtjError(ErrorCodes.QMP_ERROR, `QMP ${p.cmd}: ${err.desc ?? 'error'} (${err.class ?? '?'})`, { qmpClass: err.class, command: p.cmd }));
        } else p.resolve(msg.return);
      }
    }
  }

  /**
   * Runs a QMP command and returns its `return` value.
   * @throws TtjError QMP_ERROR (the command failed), QEMU_FAILED (QEMU went away or timed out).
   */
  execute<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs = 30000): Promise<T> {
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      if (this.socket.destroyed) return reject(new TtjError(ErrorCodes.QEMU_FAILED, `QEMU is gone (QMP ${cmd})`));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TtjError(ErrorCodes.QEMU_FAILED, `QMP ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { cmd, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify(args ? { execute: cmd, arguments: args, id } : { execute: cmd, id }) + '\n');
    });
  }

  /** Runs a human monitor command (e.g. `xp /1wx 0x10000`) and returns its text. */
  hmp(command: string): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': command });
  }

  close(): void {
    this.socket.destroy();
  }
}
