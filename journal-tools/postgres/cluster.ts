/**
 * Throwaway PostgreSQL 15 clusters for tests and benchmarks (Debian's postgresql-15):
 * `initdb` into a temp directory, the server run as the `postgres` user (PostgreSQL
 * refuses to run as root), listening on a unix socket in that directory and on
 * 127.0.0.1 at a free port. A primary can be given a synchronous standby
 * (`pg_basebackup -R`, `synchronous_standby_names`, `synchronous_commit=on`).
 * The server is a child process of ours: tests kill (SIGKILL), stop (SIGSTOP) and
 * continue it directly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const BIN = '/usr/lib/postgresql/15/bin';

/** The uid and gid of the `postgres` user the Debian package creates. */
function postgresUser(): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('no postgres user: apt-get install postgresql-15 (journal-tools/bootstrap.sh does)');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** True when PostgreSQL 15's server programs are installed. */
export function havePostgres(): boolean {
  return existsSync(join(BIN, 'postgres')) && existsSync(join(BIN, 'initdb'));
}

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Runs a PostgreSQL program as the postgres user; throws with its output when it fails. */
function runAsPostgres(prog: string, args: string[]): void {
  const { uid, gid } = postgresUser();
  const r = spawnSync(join(BIN, prog), args, { uid, gid, encoding: 'utf8', cwd: tmpdir() });
  if (r.status !== 0) throw new Error(`${prog} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

/** Options of {@link PgCluster.start}. */
export interface PgClusterOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

/** One running PostgreSQL server in a temp directory. */
export class PgCluster {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    /** The directory holding the data directory, the socket and the log. */
    readonly dir: string,
    /** The TCP port on 127.0.0.1 (also names the unix socket). */
    readonly port: number,
    private readonly settings: Record<string, string>,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    // A process killed by a signal keeps exitCode null (its signalCode says how it ended).
    return this.proc && this.proc.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  /** A ttj location for journal `name` on this server (over the unix socket unless `tcp`). */
  url(name: string, opts: { tcp?: boolean; port?: number; params?: Record<string, string> } = {}): string {
    const q = new URLSearchParams({ journal: name, ...opts.params });
    if (opts.tcp || opts.port) return `postgres://postgres@127.0.0.1:${opts.port ?? this.port}/postgres?${q}`;
    return `postgres://postgres@localhost:${this.port}/postgres?host=${encodeURIComponent(this.dir)}&${q}`;
  }

  /** A plain `pg` client config for this server (for tests that look behind the store). */
  clientConfig(): pg.ClientConfig {
    return { host: this.dir, port: this.port, user: 'postgres', database: 'postgres' };
  }

  /** Runs SQL on this server and returns the rows. */
  async sql<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
    const c = new pg.Client(this.clientConfig());
    await c.connect();
    try {
      return (await c.query(text, values)).rows as T[];
    } finally {
      await c.end();
    }
  }

  /** A new cluster: initdb (trust authentication: it is reachable only from this machine), then started. */
  static async start(opts: PgClusterOptions = {}): Promise<PgCluster> {
    const dir = makeDir();
    runAsPostgres('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
    const c = new PgCluster(dir, await freePort(), opts.settings ?? {});
    await c.startServer();
    return c;
  }

  /**
   * A synchronous standby of this cluster (pg_basebackup -R); this cluster then waits
   * for it to confirm every commit (synchronous_standby_names = '*', synchronous_commit = on).
   */
  async startStandby(): Promise<PgCluster> {
    const dir = makeDir();
    runAsPostgres('pg_basebackup', ['-D', join(dir, 'data'), '-R', '-h', this.dir, '-p', String(this.port), '-U', 'postgres', '-X', 'stream', '--no-sync']);
    const s = new PgCluster(dir, await freePort(), { ...this.settings, cluster_name: 'ttj_standby' });
    await s.startServer();
    await this.sql(`ALTER SYSTEM SET synchronous_standby_names = '*'`);
    await this.sql(`ALTER SYSTEM SET synchronous_commit = 'on'`);
    await this.sql('SELECT pg_reload_conf()');
    // Until the standby streams, commits on the primary wait: wait for it.
    for (let i = 0; i < 200; i++) {
      const r = await this.sql<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_replication WHERE sync_state = 'sync'`);
      if (Number(r[0]!.n) > 0) return s;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`the standby did not become synchronous: ${s.log()}`);
  }

  /** Promotes a standby to a primary and waits until it accepts writes. */
  async promote(): Promise<void> {
    await this.sql('SELECT pg_promote(true, 30)');
    for (let i = 0; i < 200; i++) {
      const r = await this.sql<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (!r[0]!.r) return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error('the standby was not promoted');
  }

  /** The server's log so far. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Starts the server (again, after {@link kill} or {@link stop}) and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const { uid, gid } = postgresUser();
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: this.dir,
      port: String(this.port),
      logging_collector: 'off',
      ...this.settings,
    };
    const args = ['-D', this.dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const { openSync } = await import('node:fs');
    const logFd = openSync(join(this.dir, 'server.log'), 'a');
    const proc = spawn(join(BIN, 'postgres'), args, { uid, gid, stdio: ['ignore', logFd, logFd], cwd: tmpdir() });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    for (let i = 0; i < 400; i++) {
      if (proc.exitCode !== null) throw new Error(`postgres exited at start: ${this.log()}`);
      const ok = spawnSync(join(BIN, 'pg_isready'), ['-h', this.dir, '-p', String(this.port), '-q']).status === 0;
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`postgres did not start: ${this.log()}`);
  }

  /** SIGKILLs the server's postmaster (its backends then exit: the machine is lost to its clients). */
  async kill(): Promise<void> {
    if (this.pid === undefined) return;
    const pid = this.pid;
    process.kill(pid, 'SIGKILL');
    await this.exited;
    // The orphaned backends notice the postmaster is gone and exit; wait for them so the port and socket are free.
    for (let i = 0; i < 200 && spawnSync('pgrep', ['-P', String(pid)]).status === 0; i++) await new Promise((r) => setTimeout(r, 25));
  }

  /** Sends SIGSTOP (a stalled server) or SIGCONT to the postmaster and all its backends. */
  signalAll(signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.pid;
    if (pid === undefined) return;
    const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
    for (const p of [pid, ...kids]) {
      try {
        process.kill(p, signal);
      } catch {
        /* gone */
      }
    }
  }

  /** Stops the server (fast shutdown). */
  async stop(): Promise<void> {
    if (this.pid === undefined) return;
    this.signalAll('SIGCONT');
    this.proc!.kill('SIGINT');
    await this.exited;
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    if (this.pid !== undefined) await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A temp directory the postgres user owns (PostgreSQL checks the data directory's owner and mode). */
function makeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ttj-pg-'));
  const { uid, gid } = postgresUser();
  chownSync(dir, uid, gid);
  return dir;
}
