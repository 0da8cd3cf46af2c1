/** Turns a benchmark result into a terminal table and docs/benchmarks.md. */
import { writeFileSync } from 'node:fs';
import { later, margin, met, median, peer, targets, type BenchResult } from './result.js';
import { PROFILE_NOTES, why } from './why.js';
import type { PushVmFigures } from './push-vm.js';
import { scalingMarkdown } from './scaling.js';
import type { PruneFigures } from './prune-window.js';

const num = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const mib = (n: number | undefined) => (n === undefined ? 'n/a' : n < 1048576 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const mb = (n: number) => (n / 1e6).toFixed(n >= 1e8 ? 0 : 1);

/** The "Prune" paragraph (journal-tools/bench/prune-window.ts). */
function pruneParagraph(p: PruneFigures): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (
    `A journal of ${p.epochs} epochs (a ${p.guestMiB} MiB guest, ${p.dirtyPagesPerEpoch} random pages rewritten per epoch) pruned to its last ${p.kept} epochs by \`ttj prune\` (a process; the journal's writer, appending meanwhile, runs the prune between its appends): ${num(p.pruneMs)} ms. ` +
    `The journal directory (file sizes, the writer closed) held ${mb(p.bytesBefore)} MB before and ${mb(p.bytesAfter)} MB after, with ${mb(p.bytesAppendedMeanwhile)} MB appended meanwhile: ${mb(p.bytesReclaimed)} MB reclaimed. ` +
    `The writer's commit latency: p50 ${fixed(p.writer.without.p50, 1)} ms, p99 ${fixed(p.writer.without.p99, 1)} ms over ${p.writer.without.commits} commits without a prune; p50 ${fixed(p.writer.with.p50, 1)} ms, p99 ${fixed(p.writer.with.p99, 1)} ms over the ${p.writer.with.commits} commits made while the prune ran (${fixed(p.ratio, 1)}× the p99).`
  );
}

/** The "Moving a VM" paragraph (journal-tools/bench/push-vm.ts). */
export function movingVm(v: PushVmFigures): string {
  return (
    `\`ttj record\` of the ${v.guest} guest (${v.memoryMiB} MiB, ${v.accel}, an epoch every 500 ms, 10 fps); \`ttj push\` (a process) while it records gives a destination epoch ${v.earlyEpoch}; the recording stops at epoch ${v.lastEpoch}, ${v.epochsBehind} epochs (${v.secondsBehind.toFixed(1)} s) later. ` +
    `The second push sent ${(v.secondPush.bytesSent / 1e6).toFixed(1)} MB (${v.secondPush.blobsSent} blobs, ${v.secondPush.events} events; ${v.secondPush.blobsSkipped} blobs the destination had) in ${num(v.secondPush.ms)} ms (process); the first, to the empty destination, ${(v.firstPush.bytesSent / 1e6).toFixed(1)} MB. ` +
    `QEMU's migration stream of the VM at epoch ${v.lastEpoch} (restored from the journal, paused, \`migrate\` with default capabilities) was ${(v.qemuStreamBytes / 1e6).toFixed(1)} MB: ${fixed(v.ratio, 3)}. ` +
    `Each epoch behind adds ${(v.bytesPerEpochBehind / 1e6).toFixed(2)} MB; the RAM difference between the two epochs alone is ${(v.ramDeltaBytes / 1e6).toFixed(1)} MB.`
  );
}

/** The comparison rows: ttj (as a process, and in-process), then each peer. */
function figureRows(r: BenchResult): string[][] {
  const [early, last] = r.workload.foldEpochs as [number, number];
  const t = r.ttj;
  const rows = [['', 'ingest first (ms)', 'ingest later, median (ms)', 'bytes stored', `restore epoch ${early} (ms)`, `restore epoch ${last} (ms)`]];
  rows.push(['ttj (process)', num(t.appends[0]!.processMs), num(later(t.appends.map((a) => a.processMs))), mib(t.bytes.total), num(t.folds[early]!.processMs), num(t.folds[last]!.processMs)]);
  rows.push(['ttj (in-process)', num(t.appends[0]!.ms), num(later(t.appends.map((a) => a.ms))), '', num(t.folds[early]!.ms), num(t.folds[last]!.ms)]);
  for (const p of r.peers) rows.push([p.name, num(p.ingestMs[0]), num(later(p.ingestMs)), mib(p.bytes), num(p.restoreMs[early]), num(p.restoreMs[last])]);
  for (const m of r.missingPeers) rows.push([m, 'not installed', '', '', '', '']);
  return rows;
}

export function printReport(r: BenchResult): void {
  const rows = figureRows(r);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('');
  for (const row of rows) console.log(row.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  '));
  console.log('');
  for (const t of targets(r)) {
    const ok = met(t);
    const tag = ok === undefined ? '  n/a  ' : ok ? '  met  ' : ' MISSED';
    console.log(`${tag}  ${t.what}: ${num(t.value)} (target ${t.kind === 'max' ? (t.strict ? '<' : '≤') : '≥'} ${t.limit})${ok === undefined ? ` — ${t.skipped ?? 'not measured'}` : ''}`);
  }
  console.log('');
  console.log(
    `ttj: ${mb(r.ttj.verify.bytesChecked as number)} MB verified --deep at ${num(verifyMBps(r))} MB/s; ${num(writeAmp(r))} bytes written per byte stored; peak RSS append ${num(r.ttj.appends.reduce((a, s) => Math.max(a, s.maxRssKb), 0) / 1024)} MiB, fold ${num(Math.max(...Object.values(r.ttj.folds).map((f) => f.maxRssKb)) / 1024)} MiB`,
  );
  console.log(`run took ${r.durationS} s`);
}

const verifyMBps = (r: BenchResult) => (r.ttj.verify.bytesChecked as number) / 1e6 / (r.ttj.verify.ms / 1000);
const writeAmp = (r: BenchResult) => r.ttj.appends.reduce((a, s) => a + s.writeBytes, 0) / r.ttj.bytes.total;
const cores = (cpuMs: number, ms: number) => (ms > 0 ? (cpuMs / ms).toFixed(2) : 'n/a');
const fixed = (x: number | undefined, d = 2) => (x === undefined ? 'n/a' : x.toFixed(d));

export function writeDocs(r: BenchResult, path: string): void {
  const w = r.workload;
  const t = r.ttj;
  const m = r.machine;
  const [early, last] = w.foldEpochs as [number, number];
  const rows = figureRows(r);
  const ts = targets(r);
  const zstd = peer(r, 'zstd -1 full');
  const borg = peer(r, 'borg');
  const restic = peer(r, 'restic');
  const rssMiB = (kb: number) => num(kb / 1024);
  const cumulative = (xs: number[] | undefined) => xs?.reduce<number[]>((acc, b) => [...acc, (acc.at(-1) ?? 0) + b], []);
  const zCum = cumulative(zstd?.bytesPerEpoch);
  const bCum = cumulative(borg?.bytesPerEpoch);
  const rCum = cumulative(restic?.bytesPerEpoch);
  const md: string[] = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (journal-tools/bench/) on ${r.date.slice(0, 10)} in ${Math.round(r.durationS / 60)} min${w.quick ? ' (--quick)' : ''}. Every figure below was measured in one run, on the same images, on the same machine. The machine is shared and noisy: read the **ratios** (ttj against a peer measured minutes apart), not the absolute times. All tools read the same image files, warm in the page cache (the page cache cannot be dropped reliably here, so none of them pays for reading the disk).`,
    '',
    `**Machine:** ${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node ${m.node}; ${[m.borg, m.restic, m.zstd].filter(Boolean).join(', ')}${r.missingPeers.length ? `; not installed: ${r.missingPeers.join(', ')}` : ''}.${r.loadAverage ? ` Load average (1, 5, 15 min) at the end of the run: ${r.loadAverage.map((l) => l.toFixed(1)).join(', ')} on ${m.nproc} cores${r.loadAverage[2]! > m.nproc * 2 ? ' — a heavily loaded machine (other engineers\' test suites): every tool got a fraction of a core (see "cores used"), absolute times are several times those of a quiet run, and ratios swing more than usual' : ''}.` : ''}`,
    '',
    `**Workload:** a ${w.sizeMiB} MiB memory-like guest image of ${w.pageSize}-byte pages (${w.mix.zero}% zero, ${w.mix.text}% text-like, ${w.mix.random}% random), ${w.epochs} epochs; each epoch gives ${w.dirtyFraction * 100}% of the pages (picked at random) new content of the same mix. Deterministic (seeded xorshift). Each epoch's full image is a file; ttj appends it, borg and restic back it up, zstd compresses it.`,
    '',
    '- ttj: each step in its own Node process (`journal-tools/bench/ttj-step.ts`: openWriter + appendImages + close, fold, verify --deep). "process" times are spawn to exit, like the peers\' (each peer is a process too); "in-process" is the step alone, without Node\'s startup and module loading (' +
      `${num(median(t.appends.map((a) => a.startupMs)))} ms here).`,
    "- Before every measured step or command, `sync` flushes dirty pages (untimed), so no tool pays for another's writeback. Folds and restores are the median of 5 runs; ingest is one run per epoch (the median over epochs 1–" +
      (w.epochs - 1) +
      ' is reported).',
    `- borg: \`borg create --chunker-params fixed,4096 --compression zstd,1\`, one archive per epoch, \`borg extract\`. restic: defaults, \`restic backup\` / \`restic restore\`. Baseline: each epoch's full image with \`zstd -1 -T1\`, restored with \`zstd -d\`.`,
    '',
    '## Targets',
    '',
    '| target | measured | limit | verdict |',
    '|---|---|---|---|',
    ...ts.map((x) => `| ${x.what} | ${num(x.value)} | ${x.kind === 'max' ? (x.strict ? '<' : '≤') : '≥'} ${x.limit} | ${margin(x)} |`),
    '',
    '### Why',
    '',
    ...ts.filter((x) => met(x) !== undefined).map((x) => `- **${x.what}** — ${met(x) ? 'met' : 'missed'}. ${why(x.id, r, !!met(x))}`),
    '',
    '## Figures',
    '',
    `| ${rows[0]!.join(' | ')} |`,
    `|${rows[0]!.map(() => '---').join('|')}|`,
    ...rows.slice(1).map((row) => `| ${row.join(' | ')} |`),
    '',
    `- Ratios, all from this run: ttj append (in-process) / borg create ${fixed(r.ratios.ingestVsBorgInProcess)}; first epoch (process) / borg's first ${fixed(r.ratios.ingestFirstVsBorg)}; ttj append (process) / zstd -1 of the full image ${fixed(r.ratios.ingestVsZstd)}. Fold (process) of epoch ${early} and ${last}: / borg extract ${w.foldEpochs.map((e) => fixed(r.ratios.foldVsBorg[e])).join(', ')}; / restic restore ${w.foldEpochs.map((e) => fixed(r.ratios.foldVsRestic[e])).join(', ')}; / zstd -d of the full checkpoint ${w.foldEpochs.map((e) => fixed(r.ratios.foldVsZstdDecompress[e])).join(', ')}. Storage: ttj / restic ${fixed(r.ratios.bytesVsRestic)}; bytes added by epochs 1–${last}, ttj / zstd -1 full checkpoints of those epochs ${fixed(r.ratios.laterBytesVsZstdFull, 3)}.`,
    `- Cores used (CPU time of all threads / wall time) — ingest of a later epoch, median: ttj ${cores(later(t.appends.map((a) => a.cpuMs)), later(t.appends.map((a) => a.ms)))} (in-process)${r.peers.map((p) => `, ${p.name} ${cores(later(p.ingestCpuMs), later(p.ingestMs))}`).join('')}; restore of epoch ${last}: ttj fold ${cores(t.folds[last]!.cpuMs, t.folds[last]!.ms)} (in-process)${r.peers.map((p) => (p.restoreMs[last] === undefined ? '' : `, ${p.name} ${cores(p.restoreCpuMs[last]!, p.restoreMs[last]!)}`)).join('')}. Peers' figures include their startup.`,
    `- ttj journal on disk: ${mib(t.bytes.total)} (pack files ${mib(t.bytes.packs)}, LevelDB index ${mib(t.bytes.index)}). Bytes written to disk by all appends (/proc/self/io write_bytes) per byte in the journal: ${num(writeAmp(r))}.`,
    `- ttj verify --deep: ${mb(t.verify.bytesChecked as number)} MB of blobs (${t.verify.blobsChecked} blobs) re-read and re-hashed at ${num(verifyMBps(r))} MB/s (${num(t.verify.ms)} ms in-process).`,
    `- ttj peak RSS (VmHWM): append ${rssMiB(Math.max(...t.appends.map((a) => a.maxRssKb)))} MiB, fold ${rssMiB(Math.max(...Object.values(t.folds).map((f) => f.maxRssKb)))} MiB, verify --deep ${rssMiB(t.verify.maxRssKb)} MiB; an idle Node process with ttj loaded: ${rssMiB(t.noop.maxRssKb)} MiB; guest ${w.sizeMiB} MiB.`,
    `- Fold of epoch ${early}: ${t.folds[early]!.replayedEvents} events replayed after its keyframe; of epoch ${last}: ${t.folds[last]!.replayedEvents}.`,
    '',
    '### Storage, cumulative after each epoch',
    '',
    `| epoch | ttj | ${borg ? 'borg | ' : ''}${restic ? 'restic | ' : ''}${zstd ? 'zstd -1 full checkpoints | ttj / zstd |' : ''}`,
    `|---|---|${borg ? '---|' : ''}${restic ? '---|' : ''}${zstd ? '---|---|' : ''}`,
    ...t.bytesAfter.map((b, e) => `| ${e} | ${mib(b)} | ${borg ? `${mib(bCum?.[e])} | ` : ''}${restic ? `${mib(rCum?.[e])} | ` : ''}${zstd ? `${mib(zCum?.[e])} | ${fixed(zCum ? b / zCum[e]! : undefined, 3)} |` : ''}`),
    '',
    '## Long history',
    '',
    `A ${r.long.sizeMiB} MiB guest (same page mix), ${r.long.epochs} epochs of ${r.long.dirtyPages} rewritten pages each, appended in one writer session from a buffer (journal: ${mib(r.long.bytes)}). Folds run in child processes, median of 5; times are in-process (the same Node startup of ~${num(r.long.foldLate.startupMs)} ms would add to both).`,
    '',
    '| | fold epoch (ms) | events replayed after the keyframe | peak RSS (MiB) |',
    '|---|---|---|---|',
    `| epoch ${r.long.earlyEpoch} | ${num(r.long.foldEarly.ms)} | ${r.long.foldEarly.replayedEvents} | ${rssMiB(r.long.foldEarly.maxRssKb)} |`,
    `| epoch ${r.long.lateEpoch} | ${num(r.long.foldLate.ms)} | ${r.long.foldLate.replayedEvents} | ${rssMiB(r.long.foldLate.maxRssKb)} |`,
    '',
    `Append of one small epoch (in-process, from a ${r.long.sizeMiB} MiB buffer, median): ${num(r.long.appendEarlyMs)} ms over epochs 1–10, ${num(r.long.appendLateMs)} ms over the last 10${r.long.appendLateMs <= 1.3 * r.long.appendEarlyMs ? ' — append cost does not grow with the history.' : ' — append cost grows with the history.'}`,
    '',
  ];
  if (r.prune) md.push('## Prune', '', pruneParagraph(r.prune), '');
  else if (r.pruneSkipped) md.push('## Prune', '', `Not measured: ${r.pruneSkipped}.`, '');
  if (r.push) {
    const p = r.push;
    md.push(
      '## Push',
      '',
      `A ${p.sizeMiB} MiB guest's journal (one epoch) pushed to an empty destination: ${(p.fullBytes / 1e6).toFixed(1)} MB sent in ${num(p.fullMs)} ms (in-process). After an epoch with ${p.dirtyFraction * 100}% of the pages changed, the second push sent ${(p.incrementalBytes / 1e6).toFixed(1)} MB (${p.incrementalBlobs} blobs) in ${num(p.incrementalMs)} ms: ${fixed(p.ratio, 3)} of the full copy. Bytes are uncompressed event and blob bytes (what \`ttj push --json\` reports as bytesSent).`,
      '',
    );
  }
  if (r.pushVm) md.push('## Moving a VM', '', movingVm(r.pushVm), '');
  else if (r.pushVmSkipped) md.push('## Moving a VM', '', `Not measured: ${r.pushVmSkipped}.`, '');
  if (r.nbd || r.nbdProtocol || r.nbdRandom) {
    md.push('## NBD', '');
    if (r.nbd) {
      md.push(
        `Journal-backed (\`ttj nbd\`, every write journaled before it is acknowledged; a disk of ${r.nbd.blockSize / 1024} KiB blocks) against \`qemu-nbd -f raw -t\` on a raw file, over a unix socket. Both servers run for the whole measurement after an untimed warm-up, taking turns run by run; every sequential write copies new random data (a fresh source per run, the same for both: rewriting identical bytes would only measure the journal's deduplication). Median of ${r.nbd.runs}:`,
        '',
        '| workload | ttj nbd | qemu-nbd | ttj / qemu-nbd |',
        '|---|---|---|---|',
        `| nbdcopy sequential write, ${r.nbd.sizeMiB} MiB of random data, FUA off (MB/s) | ${num(r.nbd.ttj.writeMBps)} | ${num(r.nbd.qemuNbd.writeMBps)} | ${fixed(r.nbd.ratio.write)} |`,
        `| the same write, qemu-nbd on a new (sparse) image each run (MB/s) | ${num(r.nbd.ttj.writeMBps)} | ${num(r.nbd.qemuNbdNewImage.writeMBps)} | ${fixed(r.nbd.ratio.writeNewImage)} |`,
        `| nbdcopy sequential read (MB/s) | ${num(r.nbd.ttj.readMBps)} | ${num(r.nbd.qemuNbd.readMBps)} | ${fixed(r.nbd.ratio.read)} |`,
        `| sequential write, qemu-nbd with direct I/O (\`--cache=none --aio=native\`, ttj's own cache mode) (MB/s) | ${num(r.nbd.ttj.writeMBps)} | ${num(r.nbd.qemuNbdCacheNone.writeMBps)} | ${fixed(r.nbd.ratioCacheNone.write)} |`,
        `| sequential read, qemu-nbd with direct I/O (MB/s) | ${num(r.nbd.ttj.readMBps)} | ${num(r.nbd.qemuNbdCacheNone.readMBps)} | ${fixed(r.nbd.ratioCacheNone.read)} |`,
        `| qemu-io 1 MiB writes with FUA, one at a time (MB/s) | ${num(r.nbd.ttj.fuaWriteMBps)} | ${num(r.nbd.qemuNbd.fuaWriteMBps)} | ${fixed(r.nbd.ratio.fuaWrite)} |`,
        `| qemu-io ${r.nbd.randomWrites} random 4 KiB writes in flight, then a flush (IOPS) | ${num(r.nbd.ttj.randomWriteIops)} | ${num(r.nbd.qemuNbd.randomWriteIops)} | ${fixed(r.nbd.ratio.randomWrite)} |`,
        ...(r.nbdSustained
          ? [
              `| nbdcopy sequential write of ${r.nbdSustained.sizeMiB} MiB, new random data, median of ${r.nbdSustained.runs} (MB/s) | ${num(r.nbdSustained.ttjMBps)} | ${num(r.nbdSustained.qemuNbdMBps)} | ${fixed(r.nbdSustained.ratio)} |`,
            ]
          : []),
        '',
        `ttj writes and reads its pack files with direct I/O (cache mode \`none\`, like QEMU's \`cache=none\`; \`TTJ_CACHE=writeback\` goes through the page cache instead). The target's peer, qemu-nbd with its default \`cache=writeback\`, overwrites an image whose pages are in the page cache already and reads them from there. The second row gives qemu-nbd a new image each run, whose pages are not in memory yet; the two direct-I/O rows compare like with like.`,
        '',
        `A write that changes part of a ${r.nbd.blockSize / 1024} KiB block is stored as a patch on the block's old content (only the changed bytes go to the pack file): the journal grew ${fixed(r.nbd.randomWriteAmplification)} bytes per byte written by the qemu-io random writes above (random data does not compress; before patches, each such write stored its whole block: ~11 bytes per byte). Sequential and large writes cost about 1 byte per byte.`,
        '',
      );
    }
    if (r.nbdRandom) {
      const f = r.nbdRandom;
      md.push(
        `Random 4 KiB writes of random data with fio's nbd engine (\`--rw=randwrite --bs=4k --iodepth=16 --refill_buffers --randrepeat=0 --end_fsync=1\`, ${f.ioMiB} MiB a run) to \`ttj nbd\` and to \`qemu-nbd -f raw -t\`, both serving a used ${f.sizeMiB} MiB disk (random data; the journal's in ${f.blockSize / 1024} KiB blocks), taking turns run by run after one untimed warm-up each; median of ${f.runs}:`,
        '',
        '| workload | ttj nbd | qemu-nbd | ttj / qemu-nbd |',
        '|---|---|---|---|',
        `| fio random 4 KiB writes (IOPS) | ${num(f.ttjIops)} | ${num(f.qemuNbdIops)} | ${fixed(f.ratio)} |`,
        '',
        `Journal growth per byte written (its stored pack bytes and LevelDB index, before and after): ${fixed(f.growth)} for the first ${f.ioMiB} MiB run (pack files alone ${fixed(f.packGrowth)}); ${fixed(f.sparseGrowth)} for 4096 writes (16 MiB) over a new journal of the same disk, where few writes share a block (pack files alone ${fixed(f.sparsePackGrowth)}). LevelDB compacts its log as it goes, so its share moves from run to run.`,
        '',
      );
    }
    if (r.nbdProtocol) {
      md.push(
        `The NBD protocol layer alone (\`benchNbd\`: ttj's server over a plain file, in-process) against qemu-nbd, nbdcopy of ${mib(r.nbdProtocol.sizeBytes)}, median of ${r.nbdProtocol.runs}:`,
        '',
        '| nbdcopy connections | ttj write (MB/s) | ttj read (MB/s) | qemu-nbd write | qemu-nbd read | write ratio | read ratio |',
        '|---|---|---|---|---|---|---|',
        ...r.nbdProtocol.cases.map(
          (c) => `| ${c.connections || 'default'} | ${num(c.ttj.writeMBps)} | ${num(c.ttj.readMBps)} | ${num(c.qemuNbd?.writeMBps)} | ${num(c.qemuNbd?.readMBps)} | ${fixed(c.ratio?.write)} | ${fixed(c.ratio?.read)} |`,
        ),
        '',
      );
    } else if (r.nbdProtocolSkipped) md.push(`NBD protocol layer (benchNbd): ${r.nbdProtocolSkipped}.`, '');
  }
  md.push('## Page scanner', '');
  md.push(
    r.scan
      ? `\`benchScan\` on a ${r.scan.sizeMiB} MiB image (40% zero pages): native ${num(r.scan.nativeGBps)} GB/s (both cores), TypeScript fallback ${num(r.scan.fallbackGBps)} GB/s (${num(r.scan.ratio)}x); native SHA-256 of every page (${r.scan.sha}) ${num(r.scan.sha256GBps)} GB/s.`
      : `Not measured: ${r.scanSkipped ?? 'module missing'}.`,
    '',
  );
  if (r.pause) {
    md.push(
      '## Recording (`ttj record`, boot-sector guest, an epoch every 500 ms, 10 fps)',
      '',
      '| guest | accel | epochs | frames/s | epoch ticks lost | pause p50 (ms) | pause p99 (ms) | bytes stored per epoch | QEMU full save | ratio | peak RSS of ttj record |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...r.pause.map(
        (p) =>
          `| ${p.sizeMiB} MiB | ${p.accel} | ${p.epochs} | ${num(p.fpsSustained)} | ${p.missedEpochTicks} | ${num(p.pauseP50Ms)} | ${num(p.pauseP99Ms)} | ${mib(p.bytesPerEpoch)} | ${mib(p.qemuFullSaveBytes)} | ${p.ratioToFullSave.toFixed(4)} | ${p.peakRssKb ? mib(p.peakRssKb * 1024) : 'n/a'} |`,
      ),
      '',
    );
  }
  md.push('## Scaling', '');
  if (r.scaling) md.push('How the cost grows with the work (`journal-tools/bench/scaling.ts`, run with `npm run bench -- --scaling` or on its own).', '', ...scalingMarkdown(r.scaling));
  else md.push(`Not measured in this run: ${r.scalingSkipped ?? 'run with --scaling'}.`, '');
  md.push(PROFILE_NOTES, '');
  md.push(
    `Raw figures: \`bench-results/bench.json\` (git-ignored) after \`npm run bench\`; flags: \`--size MiB\`, \`--epochs N\`, \`--long-epochs N\`, \`--quick\`, \`--out DIR\`, \`--no-docs\`, \`--no-record\` (also skips moving a VM), \`--no-nbd\`, \`--no-pg\`, \`--scaling\` (adds the scaling section: guests of 64 MiB to 4 GiB, histories of 10 to 1000 epochs; a few minutes more).`,
    '',
  );
  writeFileSync(path, md.join('\n'));
}
