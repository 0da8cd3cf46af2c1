import { randomBytes } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { QmpClient } from '../capture/qemu/qmp-client.js';
import { restore } from '../replay/restore.js';
import { freePort } from '../util/free-port.js';

/** The first TCP port of QEMU's VNC displays (display N listens on 5900 + N). */
const VNC_BASE_PORT = 5900;

/**
 * `GET /api/vm`: the VM restored from the page, if one runs. The page shows its screen
 * with noVNC over QEMU's websocket (`ws://127.0.0.1:wsPort`), bound to localhost
 * and guarded by a random VNC password that only this (token-checked) API hands out.
 */
export interface VmInfo {
  /** The POINT it was restored at. */
  at: string;
  epoch: number;
  frame?: number;
  seq: number;
  pid: number;
  /** QEMU's VNC websocket port on 127.0.0.1. */
  wsPort: number;
  /** The VNC password QEMU was given (over QMP `set_password`). */
  password: string;
}

/** A TCP port of at least `min` that was free a moment ago. */
async function freePortFrom(min: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p >= min) return p;
  }
  throw new TtjError(ErrorCodes.INTERNAL, `no free TCP port at or above ${min}`);
}

/**
 * At most one VM restored from the page at a time (`POST /api/vm`), detached from the
 * server's process (`ttj restore --detach`) with QEMU's VNC server on a websocket
 * bound to localhost, and stopped by `DELETE /api/vm` or when the server stops: QMP
 * `quit`, and the restore's work directory (RAM file, disks) goes with QEMU.
 */
export class VmSession {
  private current: { info: VmInfo; qmp: QmpClient } | undefined;

  constructor(
    private readonly journal: string,
    /** The password of an encrypted journal. */
    private readonly journalPassword?: string,
  ) {}

  get info(): VmInfo | undefined {
    return this.current?.info;
  }

  /**
   * Restores the journal at POINT `at` (stopping a VM already running first).
   * @throws TtjError what {@link restore} throws.
   */
  async start(at: string): Promise<VmInfo> {
    await this.stop();
    const display = (await freePortFrom(VNC_BASE_PORT)) - VNC_BASE_PORT;
    const wsPort = await freePort();
    const password = randomBytes(6).toString('base64url').slice(0, 8);
    const r = await restore(this.journal, {
      at,
      password: this.journalPassword,
      detach: true,
      extraArgs: ['-vnc', `127.0.0.1:${display},websocket=127.0.0.1:${wsPort},password=on`],
    });
    const qmp = await QmpClient.connect(r.qmp);
    try {
      await qmp.execute('set_password', { protocol: 'vnc', password });
    } catch (e) {
      await qmp.execute('quit').catch(() => undefined);
      qmp.close();
      throw e;
    }
    const info: VmInfo = { at, epoch: r.epoch, frame: r.frame, seq: r.seq, pid: r.pid!, wsPort, password };
    this.current = { info, qmp };
    return info;
  }

  /** Stops the VM (QMP `quit`, then SIGKILL if QEMU lingers) and waits until its process is gone. */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    await c.qmp.execute('quit', undefined, 3000).catch(() => undefined);
    c.qmp.close();
    const deadline = Date.now() + 5000;
    while (alive(c.info.pid)) {
      if (Date.now() > deadline) process.kill(c.info.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** True while process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
