/** Helpers of the QEMU tests: a RAM-backed temp dir, reading the RAM file, PNG decoding, polling, the CLI as a subprocess. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { tmpDir } from '../helpers/tmp.js';

/** A temp dir per test on /dev/shm when there is one (RAM files are big), removed afterwards. Call inside describe(). */
export function useShmTmp(): { readonly dir: string; path(...p: string[]): string } {
  let dir = '';
  beforeEach(() => {
    try {
      dir = tmpDir('ttj-qemu-test-', '/dev/shm');
    } catch {
      dir = tmpDir('ttj-qemu-test-');
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return {
    get dir() {
      return dir;
    },
    path: (...p: string[]) => join(dir, ...p),
  };
}

/** Reads a u32 (little-endian) at `addr` of a RAM file, with pread (no caching). */
export function readU32(file: string, addr: number): number {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    assert.equal(readSync(fd, b, 0, 4, addr), 4);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/**
 * The most steps the boot-sector guest can take in `ms` of running: one per 50 ms BIOS
 * wait (STEP_MS), with room for the clock's granularity. A busy host makes it take fewer, never more.
 */
export function maxGuestSteps(ms: number): number {
  return Math.ceil(ms / 25) + 5;
}

/** Polls `f` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(f: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks the PNG signature, decodes IHDR and inflates the IDAT chunks (node:zlib): a real image. */
export function decodePng(b: Buffer): { width: number; height: number; bitDepth: number; colorType: number; raw: Buffer } {
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(b.toString('latin1', 12, 16), 'IHDR');
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const bitDepth = b[24]!;
  const colorType = b[25]!;
  const idat: Buffer[] = [];
  for (let off = 8; off < b.length;) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    if (type === 'IDAT') idat.push(b.subarray(off + 8, off + 8 + len));
    if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const channels = colorType === 2 ? 3 : colorType === 6 ? 4 : 1;
  assert.equal(raw.length, height * (1 + (width * channels * bitDepth) / 8), 'pixel data of the whole image');
  return { width, height, bitDepth, colorType, raw };
}

/** bin/run.js, the ttj CLI. */
export const ttjBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');

/** How a ttj CLI subprocess ended: exit code, output, and stdout parsed as JSON (when it is). */
export interface TtjRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** A running `ttj` subprocess: `line(re)` waits for a stderr line (none with --json), `stop()` sends SIGINT and waits for the exit. */
export interface TtjProcess {
  line(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<TtjRun>;
  done: Promise<TtjRun>;
}

/** Starts `ttj ARGS...` as a subprocess (stdin closed). */
export function startTtj(args: string[]): TtjProcess {
  const child = spawn(process.execPath, [ttjBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<TtjRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
  return {
    done,
    line: (re, timeoutMs = 60000) => waitFor(() => re.exec(stderr), timeoutMs, `${re} on the stderr of ttj ${args[0]}`) as Promise<RegExpExecArray>,
    stop: () => {
      child.kill('SIGINT');
      return done;
    },
  };
}

/** Runs `ttj ARGS...` to its end. */
export function ttj(...args: string[]): Promise<TtjRun> {
  return startTtj(args).done;
}

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
