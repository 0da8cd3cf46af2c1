/**
 * Throughput of the NBD server against qemu-nbd, measured with nbdcopy (libnbd-bin):
 * sequential write (file → NBD) and sequential read (NBD → null:) of the same image,
 * (a) ttj's server with a {@link FileBlockDevice} in this process, (b) `qemu-nbd -f raw -t`
 * serving an equal file. For the benchmark harness; needs nbdcopy and qemu-nbd installed.
 */
import { spawn } from 'node:child_process';
import { open, mkdtemp, rm, copyFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { ErrorCodes, TtjError } from '../../src/errors.js';
import { FileBlockDevice } from '../../src/capture/nbd/file-block-device.js';
import { startNbdServer } from '../../src/capture/nbd/server.js';

export interface BenchNbdOptions {
  /** Image size in MiB. Default 256. */
  sizeMiB?: number;
  /** Timed runs per measurement (interleaved between the servers); the median is reported. Default 5. */
  runs?: number;
  /**
   * nbdcopy connection counts to measure. `0` = nbdcopy's default (it opens 4 connections
   * when the server advertises multi-conn — ttj's file device does, qemu-nbd 7.2 without
   * `-e` does not — else 1). Default [0, 1].
   */
  connections?: number[];
  /** Work directory (images, sockets); default a fresh one under the OS tmpdir, removed afterwards. */
  dir?: string;
  /** Skip qemu-nbd (only ttj numbers). Default false. */
  skipQemuNbd?: boolean;
  /** Binaries. */
  nbdcopy?: string;
  qemuNbd?: string;
}

export interface BenchNbdThroughput {
  /** Sequential write, MB/s (10^6 bytes per second). */
  writeMBps: number;
  /** Sequential read, MB/s. */
  readMBps: number;
}

export interface BenchNbdCase {
  /** nbdcopy --connections (0 = its default). */
  connections: number;
  ttj: BenchNbdThroughput;
  qemuNbd?: BenchNbdThroughput;
  /** ttj / qemu-nbd. */
  ratio?: { write: number; read: number };
}

export interface BenchNbdResult {
  sizeBytes: number;
  runs: number;
  cases: BenchNbdCase[];
}

function exec(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new TtjError(ErrorCodes.BAD_ARGUMENT, `cannot run ${cmd}: ${e.message}`, {}, { cause: e })));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new TtjError(ErrorCodes.NBD_ERROR, `${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

async function timed(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await exec(cmd, args);
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function waitForSocket(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(path);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new TtjError(ErrorCodes.NBD_ERROR, `qemu-nbd did not open ${path}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Target {
  url: string;
  w: number[];
  r: number[];
}

/**
 * Alternate the targets run by run (ttj write, qemu write, ttj read, qemu read, ...) so
 * that drift on a shared machine (page-cache writeback, neighbours) hits both alike.
 */
async function measure(nbdcopy: string, src: string, targets: Target[], connections: number, runs: number): Promise<void> {
  const conn = connections > 0 ? [`--connections=${connections}`] : [];
  for (let i = 0; i < runs; i++) {
    for (const t of targets) t.w.push(await timed(nbdcopy, [...conn, src, t.url]));
    for (const t of targets) t.r.push(await timed(nbdcopy, [...conn, t.url, 'null:']));
  }
}

function throughput(t: Target, bytes: number): BenchNbdThroughput {
  return { writeMBps: bytes / 1e6 / median(t.w), readMBps: bytes / 1e6 / median(t.r) };
}

/** Measure sequential nbdcopy throughput of ttj's NBD server and of qemu-nbd. */
export async function benchNbd(opts: BenchNbdOptions = {}): Promise<BenchNbdResult> {
  const sizeBytes = (opts.sizeMiB ?? 256) * 1024 * 1024;
  const runs = Math.max(1, opts.runs ?? 5);
  const nbdcopy = opts.nbdcopy ?? 'nbdcopy';
  const qemuNbd = opts.qemuNbd ?? 'qemu-nbd';
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'ttj-bench-nbd-')));
  const ownDir = opts.dir === undefined;
  const cases: BenchNbdCase[] = [];
  try {
    // A random (incompressible, non-sparse) source; targets preallocated so the timed
    // writes overwrite allocated blocks rather than measure file-system allocation.
    const src = join(dir, 'src.raw');
    const fh = await open(src, 'w');
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let off = 0; off < sizeBytes; off += chunk.length) {
      randomFillSync(chunk);
      await fh.write(chunk, 0, Math.min(chunk.length, sizeBytes - off), off);
    }
    await fh.close();
    const ttjImg = join(dir, 'ttj.raw');
    const qemuImg = join(dir, 'qemu.raw');
    await copyFile(src, ttjImg);
    await copyFile(src, qemuImg);

    const dev = await FileBlockDevice.open(ttjImg);
    const server = await startNbdServer({ exports: new Map([['disk', dev]]), socketPath: join(dir, 'ttj.sock') });
    let qemu: ReturnType<typeof spawn> | undefined;
    try {
      const qsock = join(dir, 'qemu.sock');
      if (!opts.skipQemuNbd) {
        qemu = spawn(qemuNbd, ['-f', 'raw', '-t', '-x', 'disk', '-k', qsock, qemuImg], { stdio: 'ignore' });
        await waitForSocket(qsock);
      }
      const qurl = `nbd+unix:///disk?socket=${qsock}`;
      for (const connections of opts.connections ?? [0, 1]) {
        const ours: Target = { url: server.urlFor('disk'), w: [], r: [] };
        const theirs: Target = { url: qurl, w: [], r: [] };
        const targets = qemu ? [ours, theirs] : [ours];
        // Warm-up (untimed): page cache, JIT.
        for (const t of targets) await exec(nbdcopy, [t.url, 'null:']);
        await measure(nbdcopy, src, targets, connections, runs);
        const c: BenchNbdCase = { connections, ttj: throughput(ours, sizeBytes) };
        if (qemu) {
          c.qemuNbd = throughput(theirs, sizeBytes);
          c.ratio = { write: c.ttj.writeMBps / c.qemuNbd.writeMBps, read: c.ttj.readMBps / c.qemuNbd.readMBps };
        }
        cases.push(c);
      }
    } finally {
      if (qemu) {
        const q = qemu;
        await new Promise<void>((resolve) => {
          q.once('close', () => resolve());
          q.kill('SIGTERM');
        });
      }
      await server.close();
      await dev.close();
    }
  } finally {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  }
  return { sizeBytes, runs, cases };
}
