/**
 * NBD throughput: `ttj nbd` (journal-backed) against qemu-nbd serving a raw file, side by
 * side in one run. Sequential write and read with nbdcopy (FUA off), 1 MiB writes with FUA
 * (qemu-io write -f), and 4 KiB random writes (qemu-io aio_write, then one flush).
 * ttj writes its pack files with direct I/O (its default cache mode `none`), so
 * qemu-nbd is also measured with `--cache=none --aio=native`, for reference.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync, rmSync, truncateSync } from 'node:fs';
import { serve, stopChild } from './nbd-serve.js';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { timed } from './peers.js';
import { duBytes } from './du.js';

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
  ratio: { write: number; read: number; fuaWrite: number; randomWrite: number; writeNewImage: number };
  /**
   * qemu-nbd writing a NEW image (a sparse file created for the run), so that, like the
   * journal's appends, its writes land in page-cache memory not in use before.
   */
  qemuNbdNewImage: { writeMBps: number };
  /** qemu-nbd with direct I/O (`--cache=none --aio=native`), as ttj's pack files: a reference, not the target's peer. */
  qemuNbdCacheNone: { writeMBps: number; readMBps: number };
  /** ttj against {@link qemuNbdCacheNone}. */
  ratioCacheNone: { write: number; read: number };
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
  // What the journal holds: its pack bytes as the store counts them (a pack file being
  // written is allocated ahead, so its size on disk runs ahead of its blocks) and the index.
  const journalSize = () => {
    const log = JSON.parse(spawnSync(process.execPath, [bin, 'log', J, '--json']).stdout.toString()) as { store?: { storedBytes?: number } };
    return (log.store?.storedBytes ?? 0) + duBytes(join(J, 'index'));
  };
  const ttjServer = () => {
    const ts = join(dir, 't.sock');
    return serve([process.execPath, bin, 'nbd', J, '--disk', 'd0', '--socket', ts], ts).then((p) => ({ p, url: `nbd+unix:///d0?socket=${ts}` }));
  };
  const qemuServer = (image = blank, name = 'q.sock', extra: string[] = []) => {
    const qs = join(dir, name);
    return serve(['qemu-nbd', '-f', 'raw', '-t', ...extra, '-k', qs, image], qs).then((p) => ({ p, url: `nbd+unix:///?socket=${qs}` }));
  };
  const directImage = join(dir, 'nbd-direct.raw');
  writeFileSync(directImage, Buffer.alloc(size));
  const fresh: number[] = [];
  const newImage = join(dir, 'nbd-new.raw');
  const t = { w: [] as number[], r: [] as number[], f: [] as number[], rand: [] as number[] };
  const q = { w: [] as number[], r: [] as number[], f: [] as number[], rand: [] as number[] };
  const qd = { w: [] as number[], r: [] as number[] };
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
  // Both servers run for the whole measurement, as they would serve a VM, after one
  // untimed warm-up (JIT, buffers, page cache). Every sequential write copies NEW random
  // data (a fresh source per run, the same for both servers): a journal stores each
  // distinct block once, so rewriting the same bytes would only measure deduplication.
  const servers = { ttj: await ttjServer(), qemuNbd: await qemuServer(), qemuNbdDirect: await qemuServer(directImage, 'qd.sock', ['--cache=none', '--aio=native']) };
  let grew = 0;
  try {
    for (let i = -1; i < runs; i++) {
      randomFillSync(buf);
      writeFileSync(src, buf);
      // Alternate the two servers run by run, so that drift on a shared machine hits both alike.
      const order = i % 2 ? (['ttj', 'qemuNbd'] as const) : (['qemuNbd', 'ttj'] as const);
      for (const name of order) {
        const s = servers[name];
        const out = name === 'ttj' ? t : q;
        const w = timed('nbdcopy', [src, s.url]);
        const r = timed('nbdcopy', [s.url, 'null:']);
        if (i < 0) continue; // warm-up
        out.w.push(w);
        out.r.push(r);
        out.f.push(timed('qemu-io', ['-f', 'raw', ...fuaCmds, s.url]));
        const before = name === 'ttj' && i === 0 ? journalSize() : 0;
        out.rand.push(randomTimed(s.url));
        if (name === 'ttj' && i === 0) grew = journalSize() - before;
      }
      const dw = timed('nbdcopy', [src, servers.qemuNbdDirect.url]);
      const dr = timed('nbdcopy', [servers.qemuNbdDirect.url, 'null:']);
      if (i < 0) continue;
      qd.w.push(dw);
      qd.r.push(dr);
      // qemu-nbd on a new sparse image: its pages are not in memory yet, as the journal's are not.
      rmSync(newImage, { force: true });
      writeFileSync(newImage, '');
      truncateSync(newImage, size);
      const n = await qemuServer(newImage, 'n.sock');
      fresh.push(timed('nbdcopy', [src, n.url]));
      await stopChild(n.p);
      rmSync(newImage, { force: true });
    }
  } finally {
    await stopChild(servers.ttj.p);
    await stopChild(servers.qemuNbd.p);
    await stopChild(servers.qemuNbdDirect.p);
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
      writeNewImage: ttj.writeMBps / mb(size, median(fresh)),
    },
    qemuNbdNewImage: { writeMBps: mb(size, median(fresh)) },
    qemuNbdCacheNone: { writeMBps: mb(size, median(qd.w)), readMBps: mb(size, median(qd.r)) },
    ratioCacheNone: { write: ttj.writeMBps / mb(size, median(qd.w)), read: ttj.readMBps / mb(size, median(qd.r)) },
    randomWriteAmplification: grew / (randomWrites * 4096),
    randomWrites,
  };
}

/** A longer sequential write (1 GiB by default) on both servers: sustained rates, beyond what the page cache absorbs at once. */
export interface NbdSustainedFigures {
  sizeMiB: number;
  runs: number;
  ttjMBps: number;
  qemuNbdMBps: number;
  /** ttj / qemu-nbd. */
  ratio: number;
}

/** Writes `sizeMiB` of new random data (a fresh source per run) with nbdcopy to `ttj nbd` and to qemu-nbd on a cached raw image, taking turns. */
export async function nbdSustainedWrite(bin: string, dir: string, sizeMiB = 1024, runs = 3): Promise<NbdSustainedFigures> {
  const size = sizeMiB << 20;
  const chunk = Buffer.alloc(64 << 20);
  const fill = (path: string, random: boolean) => {
    rmSync(path, { force: true });
    const fd = openSync(path, 'w');
    try {
      for (let at = 0; at < size; at += chunk.length) {
        if (random) randomFillSync(chunk);
        writeSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
      }
    } finally {
      closeSync(fd);
    }
  };
  const blank = join(dir, 'sustained-blank.raw');
  writeFileSync(blank, '');
  truncateSync(blank, size);
  const image = join(dir, 'sustained-qemu.raw');
  fill(image, false); // written once, so its pages are cached, as for the main comparison
  const J = join(dir, 'sustained.ttj');
  const made = spawnSync(process.execPath, [bin, 'append', J, '--disk', `d0=${blank}`], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`ttj append failed: ${made.stderr}`);
  const ts = join(dir, 'st.sock');
  const qs = join(dir, 'sq.sock');
  const ttj = await serve([process.execPath, bin, 'nbd', J, '--disk', 'd0', '--socket', ts], ts);
  const qemu = await serve(['qemu-nbd', '-f', 'raw', '-t', '-k', qs, image], qs);
  const src = join(dir, 'sustained-src.raw');
  const t: number[] = [];
  const q: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      fill(src, true);
      const order = i % 2 ? ['ttj', 'qemu'] : ['qemu', 'ttj'];
      for (const o of order) {
        if (o === 'ttj') t.push(timed('nbdcopy', [src, `nbd+unix:///d0?socket=${ts}`]));
        else q.push(timed('nbdcopy', [src, `nbd+unix:///?socket=${qs}`]));
      }
    }
  } finally {
    await stopChild(ttj);
    await stopChild(qemu);
    for (const p of [src, image, blank]) rmSync(p, { force: true });
    rmSync(J, { recursive: true, force: true });
  }
  const mb = (ms: number) => size / 1e6 / (ms / 1000);
  const ttjMBps = mb(median(t));
  const qemuNbdMBps = mb(median(q));
  return { sizeMiB, runs, ttjMBps, qemuNbdMBps, ratio: ttjMBps / qemuNbdMBps };
}
