import { randomBytes } from 'node:crypto';
import { ErrorCodes, TtjError } from '../errors.js';
import { QmpClient } from '../capture/qemu/qmp-client.js';
import { restore } from '../replay/restore.js';
import { freePort } from '../util/free-port.js';
import { startForkRecording } from './fork-recorder.js';
import type { FamilyMember } from './journal-family.js';

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
  /** For "fork and record": the new journal it is recorded into (its id and location). */
  fork?: { journal: string; location: string };
}

/** What {@link VmSession.startFork} needs: the POINT of journal `source`, recorded into the new journal `target`. */
export interface ForkStart {
  source: string;
  at: string;
  target: string;
  /**
   * The new journal as a member of the family (called once it exists: the recorder writes
   * its first epoch before it starts QEMU). The server opens each journal once, so this
   * asks the family rather than opening it here.
   */
  member: (location: string) => Promise<FamilyMember>;
}

/** A TCP port of at least `min` that was free a moment ago. */
async function freePortFrom(min: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p >= min) return p;
  }
  throw new TtjError(ErrorCodes.INTERNAL, `no free TCP port at or above ${min}`);
}

/** A VNC display on 127.0.0.1 with a websocket, and its random password: QEMU's arguments and what the page needs. */
async function vncDisplay(): Promise<{ args: string[]; wsPort: number; password: string }> {
  const display = (await freePortFrom(VNC_BASE_PORT)) - VNC_BASE_PORT;
  const wsPort = await freePort();
  const password = randomBytes(6).toString('base64url').slice(0, 8);
  return { args: ['-vnc', `127.0.0.1:${display},websocket=127.0.0.1:${wsPort},password=on`], wsPort, password };
}

/** Gives QEMU's VNC server its password over QMP; on failure quits QEMU and closes `qmp`. */
async function setVncPassword(qmp: QmpClient, password: string): Promise<void> {
  try {
    await qmp.execute('set_password', { protocol: 'vnc', password });
  } catch (e) {
    await qmp.execute('quit').catch(() => undefined);
    qmp.close();
    throw e;
  }
}

/**
 * At most one VM started from the page at a time, with QEMU's VNC server on a websocket
 * bound to localhost: restored (`POST /api/vm`) detached from the server's process
 * (`ttj restore --detach`), or restored and recorded into a new journal (`POST
 * /api/forks`, a child `ttj restore --fork`, see {@link startForkRecording}). Stopped
 * by `DELETE /api/vm` or when the server stops: a restored VM by QMP `quit` (its work
 * directory, RAM file and disks, goes with QEMU); a fork by stopping its recorder, which
 * commits a last epoch and closes the new journal.
 */
export class VmSession {
  private current: { info: VmInfo; stop: () => Promise<void> } | undefined;

  constructor(
    /** The password of an encrypted journal (and of its family). */
    private readonly journalPassword?: string,
  ) {}

  get info(): VmInfo | undefined {
    return this.current?.info;
  }

  /**
   * Restores the journal at `location` at POINT `at` (stopping a VM already running first).
   * @throws TtjError what {@link restore} throws.
   */
  async start(location: string, at: string): Promise<VmInfo> {
    await this.stop();
    const vnc = await vncDisplay();
    const r = await restore(location, { at, password: this.journalPassword, detach: true, extraArgs: vnc.args });
    const qmp = await QmpClient.connect(r.qmp);
    await setVncPassword(qmp, vnc.password);
    const info: VmInfo = { at, epoch: r.epoch, frame: r.frame, seq: r.seq, pid: r.pid!, wsPort: vnc.wsPort, password: vnc.password };
    this.current = { info, stop: () => quitQemu(qmp, info.pid) };
    return info;
  }

  /**
   * Restores `f.source` at `f.at` and records it into the new journal `f.target`, as
   * `ttj restore --fork` does (stopping a VM already running first).
   * @throws TtjError what `ttj restore --fork` throws (JOURNAL_EXISTS, POINT_NOT_FOUND, INCOMPATIBLE_VM, ...).
   */
  async startFork(f: ForkStart): Promise<VmInfo> {
    await this.stop();
    const vnc = await vncDisplay();
    const rec = await startForkRecording({ source: f.source, at: f.at, target: f.target, password: this.journalPassword, displayArgs: vnc.args });
    try {
      await setVncPassword(rec.qmp, vnc.password);
      const m = await f.member(f.target);
      const info: VmInfo = { at: f.at, epoch: m.fork?.parentEpoch ?? 0, seq: m.fork?.parentSeq ?? 0, pid: rec.pid, wsPort: vnc.wsPort, password: vnc.password, fork: { journal: m.id, location: f.target } };
      const frame = /^frame:(\d+)$/.exec(f.at);
      if (frame) info.frame = Number(frame[1]);
      const entry = { info, stop: async () => void (await rec.stop()) };
      this.current = entry;
      // The guest may power off: the recorder then ends by itself.
      void rec.exited.then(() => {
        if (this.current === entry) this.current = undefined;
      });
      return info;
    } catch (e) {
      await rec.stop();
      throw e;
    }
  }

  /** Stops the VM and waits until it is gone (a fork: until its recorder has closed the new journal). */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = undefined;
    await c.stop();
  }
}

/** QMP `quit`, then SIGKILL if QEMU lingers; waits until its process is gone. */
async function quitQemu(qmp: QmpClient, pid: number): Promise<void> {
  await qmp.execute('quit', undefined, 3000).catch(() => undefined);
  qmp.close();
  const deadline = Date.now() + 5000;
  while (alive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
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
