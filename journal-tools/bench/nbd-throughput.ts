/**
 * NBD throughput: `ttj nbd` (journal-backed) against qemu-nbd serving a raw file, side by
 * side in one run. Sequential write and read with nbdcopy (FUA off), 1 MiB writes with FUA
 * (qemu-io write -f), and 4 KiB random writes (qemu-io aio_write, then one flush).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { timed } from './peers.js';
import { duBytes } from './du.js';

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface NbdFigures {
  sizeMiB: number;
  runs: number;
  /** Disk block size of the journal's disk (bytes). */
  blockSize: number;
  ttj: { writeMBps: number; readMBps: number; fuaWriteMBps: number; randomWriteIops: number };
  qemuNbd: { writeMBps: number; readMBps: number; fuaWriteMBps: number; randomWriteIops: number };
  ratio: { write: number; read: number; fuaWrite: number; randomWrite: number };
  /** 4 KiB random writes: journal bytes added per byte written (the block size's read-modify-write). */
  randomWriteAmplification: number;
  randomWrites: number;
}

/** 4 KiB random writes (a fixed seed) as qemu-io commands, all in flight, then one flush. */
function randomWriteScript(sizeMiB: number, n: number): string {
  let x = 0x2545f491;
  const blocks = (sizeMiB << 20) / 4096;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    lines.push(`aio_write -q -P 0x${((i % 250) + 1).toString(16)} ${(x % blocks) * 4096} 4k`);
  }
  lines.push('aio_flush', 'quit');
  return lines.join('\n') + '\n';
}

/** `bin` is ttj's bin/run.js. */
export async function nbdThroughput(bin: string, dir: string, sizeMiB: number, runs = 5): Promise<NbdFigures> {
  const size = sizeMiB << 20;
  const src = join(dir, 'nbd-src.raw');
  const buf = Buffer.alloc(size);
  randomFillSync(buf);
  writeFileSync(src, buf);
  const blank = join(dir, 'nbd-blank.raw');
  writeFileSync(blank, Buffer.alloc(size));
  const J = join(dir, 'nbd.ttj');
  spawnSync(process.execPath, [bin, 'append', J, '--disk', `d0=${blank}`]);
  const info = JSON.parse(spawnSync(process.execPath, [bin, 'log', J, '--json']).stdout.toString()) as { disks?: { disk: string; blockSize?: number }[] };
  const blockSize = info.disks?.find((d) => d.disk === 'd0')?.blockSize ?? 0;
  const mb = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
  const serve = async (args: string[], sock: string): Promise<ChildProcess> => {
    rmSync(sock, { force: true });
    const c = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
    await waitFor(sock);
    return c;
  };
  const stopChild = (c: ChildProcess) =>
    new Promise<void>((r) => {
      c.on('exit', () => r());
      c.kill('SIGTERM');
    });
  const ttjServer = () => {
    const ts = join(dir, 't.sock');
    return serve([process.execPath, bin, 'nbd', J, '--disk', 'd0', '--socket', ts], ts).then((p) => ({ p, url: `nbd+unix:///d0?socket=${ts}` }));
  };
  const qemuServer = () => {
    const qs = join(dir, 'q.sock');
    return serve(['qemu-nbd', '-f', 'raw', '-t', '-k', qs, blank], qs).then((p) => ({ p, url: `nbd+unix:///?socket=${qs}` }));
  };
  const sides = { ttj: ttjServer, qemuNbd: qemuServer };
  const t = { w: [] as number[], r: [] as number[], f: [] as number[], rand: [] as number[] };
  const q = { w: [] as number[], r: [] as number[], f: [] as number[], rand: [] as number[] };
  const fuaMiB = Math.min(sizeMiB, 64);
  const fuaCmds = Array.from({ length: fuaMiB }, (_, i) => ['-c', `write -q -f -P 0x5a ${i}M 1M`]).flat();
  const randomWrites = 4096;
  const script = join(dir, 'random-writes.qemu-io');
  writeFileSync(script, randomWriteScript(sizeMiB, randomWrites));
  const randomTimed = (url: string) => {
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', `qemu-io -f raw '${url}' < '${script}'`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`qemu-io random writes failed: ${r.stderr}`);
    return performance.now() - t0;
  };
  let grew = 0;
  for (let i = 0; i < runs; i++) {
    // Alternate the two servers run by run, so that drift on a shared machine hits both alike.
    for (const [name, start] of Object.entries(sides)) {
      const out = name === 'ttj' ? t : q;
      const s = await start();
      out.w.push(timed('nbdcopy', [src, s.url]));
      out.r.push(timed('nbdcopy', [s.url, 'null:']));
      out.f.push(timed('qemu-io', ['-f', 'raw', ...fuaCmds, s.url]));
      const before = name === 'ttj' ? duBytes(J) : 0;
      out.rand.push(randomTimed(s.url));
      await stopChild(s.p);
      if (name === 'ttj' && i === 0) grew = duBytes(J) - before;
    }
  }
  const figures = (o: typeof t) => ({
    writeMBps: mb(size, median(o.w)),
    readMBps: mb(size, median(o.r)),
    fuaWriteMBps: mb(fuaMiB << 20, median(o.f)),
    randomWriteIops: randomWrites / (median(o.rand) / 1000),
  });
  const ttj = figures(t);
  const qemuNbd = figures(q);
  return {
    sizeMiB,
    runs,
    blockSize,
    ttj,
    qemuNbd,
    ratio: {
      write: ttj.writeMBps / qemuNbd.writeMBps,
      read: ttj.readMBps / qemuNbd.readMBps,
      fuaWrite: ttj.fuaWriteMBps / qemuNbd.fuaWriteMBps,
      randomWrite: ttj.randomWriteIops / qemuNbd.randomWriteIops,
    },
    randomWriteAmplification: grew / (randomWrites * 4096),
    randomWrites,
  };
}
