/** Sequential NBD throughput with nbdcopy: `ttj nbd` (journal-backed) against qemu-nbd on a raw file. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { timed } from './peers.js';

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface NbdFigures {
  sizeMiB: number;
  ttj: { writeMBps: number; readMBps: number; fuaWriteMBps: number };
  qemuNbd: { writeMBps: number; readMBps: number };
  ratio: { write: number; read: number };
}

/** `bin` is ttj's bin/run.js. */
export async function nbdThroughput(bin: string, dir: string, sizeMiB: number, runs = 3): Promise<NbdFigures> {
  const size = sizeMiB << 20;
  const src = join(dir, 'nbd-src.raw');
  const buf = Buffer.alloc(size);
  randomFillSync(buf);
  writeFileSync(src, buf);
  const blank = join(dir, 'nbd-blank.raw');
  writeFileSync(blank, Buffer.alloc(size));
  const J = join(dir, 'nbd.ttj');
  spawnSync(process.execPath, [bin, 'append', J, '--disk', `d0=${blank}`]);
  const mb = (ms: number) => size / 1e6 / (ms / 1000);
  const serve = async (args: string[], sock: string): Promise<ChildProcess> => {
    rmSync(sock, { force: true });
    const c = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
    await waitFor(sock);
    return c;
  };
  const stopChild = (c: ChildProcess) => new Promise<void>((r) => {
    c.on('exit', () => r());
    c.kill('SIGTERM');
  });
  const tW: number[] = [], tR: number[] = [], qW: number[] = [], qR: number[] = [], tF: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ts = join(dir, 't.sock');
    const t = await serve([process.execPath, bin, 'nbd', J, '--disk', 'd0', '--socket', ts], ts);
    const turl = `nbd+unix:///d0?socket=${ts}`;
    tW.push(timed('nbdcopy', [src, turl]));
    tR.push(timed('nbdcopy', [turl, 'null:']));
    await stopChild(t);
    const qs = join(dir, 'q.sock');
    const q = await serve(['qemu-nbd', '-f', 'raw', '-t', '-k', qs, blank], qs);
    const qurl = `nbd+unix:///?socket=${qs}`;
    qW.push(timed('nbdcopy', [src, qurl]));
    qR.push(timed('nbdcopy', [qurl, 'null:']));
    await stopChild(q);
  }
  {
    // FUA on: every request flushed (nbdcopy --flush flushes at the end only; qemu-io -f per write).
    const ts = join(dir, 't.sock');
    const t = await serve([process.execPath, bin, 'nbd', J, '--disk', 'd0', '--socket', ts], ts);
    const n = Math.min(sizeMiB, 64);
    const cmds = Array.from({ length: n }, (_, i) => ['-c', `write -f -P 0x5a ${i}M 1M`]).flat();
    const ms = timed('qemu-io', ['-f', 'raw', ...cmds, `nbd+unix:///d0?socket=${ts}`]);
    tF.push((n << 20) / 1e6 / (ms / 1000));
    await stopChild(t);
  }
  const ttj = { writeMBps: mb(median(tW)), readMBps: mb(median(tR)), fuaWriteMBps: tF[0]! };
  const qemuNbd = { writeMBps: mb(median(qW)), readMBps: mb(median(qR)) };
  return { sizeMiB, ttj, qemuNbd, ratio: { write: ttj.writeMBps / qemuNbd.writeMBps, read: ttj.readMBps / qemuNbd.readMBps } };
}
