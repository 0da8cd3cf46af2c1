/**
 * Random 4 KiB writes of random data through `ttj nbd` against qemu-nbd, measured with
 * fio's nbd engine (`--rw=randwrite --bs=4k --iodepth=16 --refill_buffers`, then one
 * flush; `--randrepeat=0`: new offsets and data every run), and how much the journal grows per byte written. Both servers serve a disk
 * full of random data (a used disk: a write changes data that is there), over a unix
 * socket; they take turns run by run. Standalone:
 * `node dist/journal-tools/bench/nbd-random-write.js [--size MiB] [--io MiB] [--runs N]`.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { serve, stopChild } from './nbd-serve.js';
import { duBytes } from './du.js';

export interface NbdRandomWriteFigures {
  sizeMiB: number;
  /** MiB written by each fio run (4 KiB writes). */
  ioMiB: number;
  runs: number;
  /** Disk block size of the journal's disk (bytes). */
  blockSize: number;
  ttjIops: number;
  qemuNbdIops: number;
  /** ttj / qemu-nbd. */
  ratio: number;
  /** Journal bytes added per byte written by the first fio run (random data over a used disk). */
  growth: number;
  /** The same for a sparse run: 4096 writes of 4 KiB over a new journal's used disk (few writes share a block). */
  sparseGrowth: number;
  /** {@link growth} and {@link sparseGrowth} counting the pack files only (without the LevelDB index). */
  packGrowth: number;
  sparsePackGrowth: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** IOPS of one fio run of `ioMiB` of random 4 KiB writes to `url`. */
function fio(url: string, ioMiB: number, out: string): number {
  const r = spawnSync(
    'fio',
    [
      '--name=randwrite',
      '--ioengine=nbd',
      `--uri=${url}`,
      '--rw=randwrite',
      '--bs=4k',
      '--iodepth=16',
      '--refill_buffers',
      '--randrepeat=0',
      `--io_size=${ioMiB}M`,
      '--end_fsync=1',
      '--output-format=json',
      `--output=${out}`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`fio failed (${r.status}): ${r.stderr}`);
  const j = JSON.parse(readFileSync(out, 'utf8')) as { jobs: { write: { iops: number } }[] };
  return j.jobs[0]!.write.iops;
}

/** `bin` is ttj's bin/run.js; `dir` a work directory. */
export async function nbdRandomWrite(bin: string, dir: string, sizeMiB = 256, ioMiB = 32, runs = 5): Promise<NbdRandomWriteFigures> {
  const size = sizeMiB << 20;
  const image = join(dir, 'rw-src.raw');
  const buf = Buffer.allocUnsafe(size);
  randomFillSync(buf);
  writeFileSync(image, buf);
  const qemuImage = join(dir, 'rw-qemu.raw');
  writeFileSync(qemuImage, buf);
  const ttjRun = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ttj ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  };
  const newJournal = (name: string) => {
    const J = join(dir, name);
    rmSync(J, { recursive: true, force: true });
    ttjRun('append', J, '--disk', `d0=${image}`);
    return J;
  };
  // What the journal holds: its pack bytes as the store counts them and the index.
  const packSize = (J: string) => (JSON.parse(ttjRun('log', J, '--json')) as { store?: { storedBytes?: number } }).store?.storedBytes ?? 0;
  const journalSize = (J: string) => packSize(J) + duBytes(join(J, 'index'));
  const J = newJournal('rw.ttj');
  const info = JSON.parse(ttjRun('log', J, '--json')) as { disks?: { disk: string; blockSize?: number }[] };
  const blockSize = info.disks?.find((d) => d.disk === 'd0')?.blockSize ?? 0;
  const ttjServer = async (journal: string): Promise<{ p: ChildProcess; url: string }> => {
    const ts = join(dir, 'rw-t.sock');
    return { p: await serve([process.execPath, bin, 'nbd', journal, '--disk', 'd0', '--socket', ts], ts), url: `nbd+unix:///d0?socket=${ts}` };
  };
  const qs = join(dir, 'rw-q.sock');
  const out = join(dir, 'fio.json');
  const t: number[] = [];
  const q: number[] = [];
  let growth = 0;
  let sparseGrowth = 0;
  let packGrowth = 0;
  let sparsePackGrowth = 0;
  const ttj = await ttjServer(J);
  const qemu = { p: await serve(['qemu-nbd', '-f', 'raw', '-t', '-k', qs, qemuImage], qs), url: `nbd+unix:///?socket=${qs}` };
  try {
    // One untimed warm-up each (JIT, buffers, page cache).
    fio(ttj.url, 4, out);
    fio(qemu.url, 4, out);
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? ['ttj', 'qemu'] : ['qemu', 'ttj'];
      for (const o of order) {
        if (o === 'qemu') q.push(fio(qemu.url, ioMiB, out));
        else {
          const before = i === 0 ? [journalSize(J), packSize(J)] : [0, 0];
          t.push(fio(ttj.url, ioMiB, out));
          if (i === 0) {
            growth = (journalSize(J) - before[0]!) / (ioMiB << 20);
            packGrowth = (packSize(J) - before[1]!) / (ioMiB << 20);
          }
        }
      }
    }
  } finally {
    await stopChild(ttj.p);
    await stopChild(qemu.p);
  }
  // Sparse: 4096 writes (16 MiB) over a new journal's disk.
  const S = newJournal('rw-sparse.ttj');
  const sparse = await ttjServer(S);
  try {
    const before = [journalSize(S), packSize(S)];
    fio(sparse.url, 16, out);
    sparseGrowth = (journalSize(S) - before[0]!) / (16 << 20);
    sparsePackGrowth = (packSize(S) - before[1]!) / (16 << 20);
  } finally {
    await stopChild(sparse.p);
  }
  for (const p of [image, qemuImage, out]) rmSync(p, { force: true });
  rmSync(J, { recursive: true, force: true });
  rmSync(S, { recursive: true, force: true });
  const ttjIops = median(t);
  const qemuNbdIops = median(q);
  return { sizeMiB, ioMiB, runs, blockSize, ttjIops, qemuNbdIops, ratio: ttjIops / qemuNbdIops, growth, sparseGrowth, packGrowth, sparsePackGrowth };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string' }, io: { type: 'string' }, runs: { type: 'string' }, bin: { type: 'string' } } });
  const dir = mkdtempSync(join(tmpdir(), 'ttj-bench-rw-'));
  try {
    const bin = values.bin ?? resolve(import.meta.dirname, '../../../bin/run.js');
    const f = await nbdRandomWrite(bin, dir, Number(values.size ?? 256), Number(values.io ?? 32), Number(values.runs ?? 3));
    console.log(JSON.stringify(f, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();
