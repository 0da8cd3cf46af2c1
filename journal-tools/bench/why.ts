/**
 * The short, honest "why" beside each target in docs/benchmarks.md. Each explanation
 * is chosen by whether the target was met and quotes this run's figures; the causes
 * come from profiling the steps (`node --cpu-prof dist/journal-tools/bench/ttj-step.js ...`),
 * summarised in PROFILE_NOTES.
 */
import { later, median, peer, type BenchResult } from './result.js';
import type { PushVmFigures } from './push-vm.js';

const ms = (n: number) => `${Math.round(n)} ms`;
const x2 = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));

export function why(id: string, r: BenchResult, ok: boolean): string {
  const t = r.ttj;
  const w = r.workload;
  const borg = peer(r, 'borg');
  const zstd = peer(r, 'zstd -1 full');
  const startup = median(t.appends.map((a) => a.startupMs));
  const appendIn = later(t.appends.map((a) => a.ms));
  const last = w.foldEpochs[w.foldEpochs.length - 1]!;
  switch (id) {
    case 'ingest': {
      const b = borg ? later(borg.ingestMs) : NaN;
      const budget = 0.2 * b;
      return (
        `A later epoch takes ${ms(later(t.appends.map((a) => a.processMs)))} as a process against borg create's ${ms(b)}: ${ms(startup)} of it is Node starting and loading ttj (LevelDB, protobufjs, zstd-napi; the oclif CLI adds ~100 ms more), ` +
        `the rest (${ms(appendIn)}, ratio ${x2(r.ratios.ingestVsBorgInProcess)} in-process) is opening the journal and loading the head state (~30 ms), reading the whole ${w.sizeMiB} MiB image, scanning it and SHA-256 hashing every non-zero page ` +
        `(a file input carries no state from the previous append, so all ~${Math.round(((100 - w.mix.zero) / 100) * w.sizeMiB * 256)} non-zero pages are hashed to find the ~${w.dirtyFraction * 100}% that changed), then compressing the changed pages, fdatasync and a synchronous LevelDB batch. ` +
        (ok
          ? 'borg hashes and looks up every 4 KiB chunk in Python, so ttj stays well ahead.'
          : `The limit leaves ${ms(budget)} for the whole process, of which Node's startup alone takes ${ms(startup)}: not reachable as one process per epoch on this machine. ` +
            `A persisted fingerprint table (hash only pages whose fingerprint changed, as \`ttj record\` does in memory) and overlapping the next 32 MiB read with scanning and hashing would save roughly 60–100 ms; only an in-process writer with page fingerprints (what \`ttj record\` does) avoids both the startup and the full re-hash, and is the path that can meet it.`)
      );
    }
    case 'bytesBorg':
      return ok
        ? `Both store each distinct non-zero 4 KiB page once, zstd level 1. ttj compresses the pages of an epoch together in 1 MiB blocks, borg compresses each 4 KiB chunk on its own, and borg keeps per-archive metadata (an item list and chunk index) for every archive; ttj's index is ${x2(t.bytes.index / t.bytes.total)} of its bytes.`
        : 'borg compresses better than ttj here; check the compression level and block size of the pack files.';
    case 'bytesZstd': {
      const first = t.bytesAfter[0]!;
      const z0 = zstd?.bytesPerEpoch?.[0] ?? NaN;
      const a = first / z0;
      const l = r.ratios.laterBytesVsZstdFull ?? NaN;
      return ok
        ? `The first epoch costs about one full checkpoint; every later epoch adds only its dirty pages.`
        : `Out of reach at ${w.epochs} epochs by construction: ${w.mix.random}% of the first image is random bytes that nothing compresses, so the first epoch alone costs ${x2(first / z0)} of one zstd -1 checkpoint (${(first / 1048576).toFixed(1)} MiB vs ${(z0 / 1048576).toFixed(1)} MiB; zstd -19 does not do much better on this image), i.e. at least 1/${w.epochs} = ${x2(1 / w.epochs)} of ${w.epochs} checkpoints before any later epoch. ` +
            `The later epochs cost ${x2(r.ratios.laterBytesVsZstdFull)} of their full checkpoints (the ${w.dirtyFraction * 100}% of pages dirtied, which are as incompressible as the image), so after N epochs the ratio is about ${x2(l)} + ${x2(a - l)}/N${l < 0.15 ? ` and falls under 0.15 from N = ${Math.ceil((a - l) / (0.15 - l))}` : ', above 0.15 for any N'}. The storage table below shows the curve.`;
    }
    case 'foldBorg':
    case 'foldRestic': {
      const f = t.folds[last]!;
      const p = peer(r, id === 'foldBorg' ? 'borg' : 'restic');
      const peerName = id === 'foldBorg' ? 'borg extract' : 'restic restore';
      const pCores = p?.restoreCpuMs[last] !== undefined ? (p.restoreCpuMs[last]! / p.restoreMs[last]!).toFixed(2) : 'n/a';
      const tCores = (f.cpuMs / f.ms).toFixed(2);
      return (
        `A fold of epoch ${last} took ${ms(f.processMs)} (process; ${ms(f.ms)} in-process, ${ms(f.startupMs)} startup) against ${ms(p?.restoreMs[last] ?? NaN)} for ${peerName}; ttj used ${tCores} cores, ${peerName} ${pCores}. ` +
        `The fold does one batched LevelDB lookup per non-zero page, reads and decompresses each 1 MiB block once, checks every page's SHA-256 and the state root (a fold is a proof, not only a copy) and writes ${w.sizeMiB} MiB. ` +
        (ok
          ? `${peerName} pays more per chunk (${id === 'foldBorg' ? 'Python, per-chunk decompression' : 'per-blob decryption and MAC checks, a larger index'}).`
          : `Decompression, SHA-256 and the write of each page to its place in the output run in a pool of worker threads (one per core, src/store/block-decode.ts: each block's buffers go to a worker and back without copies, pages next to each other in a block and in the output are one write, zero pages are holes); the JS thread locates the pages (LevelDB getMany) and hands out the blocks. On two cores the workers and the JS thread share the CPU with the kernel's writeback of the output (${tCores} cores used), and memory a process touches for the first time costs a page fault per 4 KiB page on this virtual machine (measured: 64 MiB first touched in ~290 ms, ~18 µs a page; touched again in ~3 ms), so a fold's working set (the output's page cache above all) costs time that the peer pays too. The limit leaves ${ms(0.5 * (p?.restoreMs[last] ?? NaN))} for the process, ~${ms(f.startupMs)} of it Node's startup and ~${ms(f.startupMs / 4)} more starting the workers; looking up the next chunk's locations while this one is written, and fewer, larger writes (pwritev of the runs of a block) are the next steps.`)
      );
    }
    case 'rssAppend':
      return `Peak ${(Math.max(...t.appends.map((a) => a.maxRssKb)) / 1024).toFixed(0)} MiB for the first epoch: the 32 MiB read chunk, the head's page table (32 bytes a page), and every changed page's bytes held until the batch is committed (the first epoch holds all ${(100 - w.mix.zero).toFixed(0)}% non-zero pages, ${((w.sizeMiB * (100 - w.mix.zero)) / 100).toFixed(0)} MiB, plus their compressed blocks). ${ok ? 'Within the limit; a later epoch needs far less.' : 'Streaming the blobs of one epoch to the pack file before the commit (they are unreferenced until it) would bound it.'}`;
    case 'rssFold':
      return `Peak ${(Math.max(...Object.values(t.folds).map((f) => f.maxRssKb)) / 1024).toFixed(0)} MiB: the decoding threads (one per core) with their decompression buffers, the reused buffers of the four block readers (a fold bypasses the block cache), the page tables and the locations of a 256 MiB chunk of pages; no page is held: each is written to the output from its decoded block. Independent of the history and of the guest size beyond the tables${ok ? '.' : ', so on a small guest this fixed part exceeds 2x the guest.'}`;
    case 'long':
      return `Epoch ${r.long.lateEpoch} replays ${r.long.foldLate.replayedEvents} events after its keyframe, epoch ${r.long.earlyEpoch} ${r.long.foldEarly.replayedEvents}: a keyframe every 64 epochs bounds the replay, so the fold cost stays that of reading the ${r.long.sizeMiB} MiB state. ${ok ? `The remaining ${Math.round((r.ratios.longFoldLateVsEarly - 1) * 100)}% is the replay of up to 63 epochs and pages spread over more, smaller blocks.` : 'The replay of up to 63 epochs and pages scattered over many small blocks (8 dirty pages an epoch make 32 KiB blocks) cost more than the target allows: keyframes more often for small epochs, or carrying page locations in the keyframe, would close it.'}`;
    case 'scanNative':
      return ok ? 'The native scanner reads the image at memory bandwidth on both cores.' : 'Below memory bandwidth: check that the native addon is built with the CPU features of this machine.';
    case 'scanRatio':
      return ok
        ? 'The native scanner is well ahead of the TypeScript fallback.'
        : `The native scan runs at memory bandwidth (${x2(r.scan?.nativeGBps)} GB/s); V8 compiles the TypeScript fingerprint loop well and both skip zero pages with a memcmp, so the fallback reaches ${x2(r.scan?.fallbackGBps)} GB/s. The fallback is timed once (the native scan best of 3), so this ratio swings between runs (4x to 10x seen on this machine); the gap is bounded by memory bandwidth, not by the native code.`;
    case 'pause':
      return ok
        ? 'The pause is the RAM fingerprint plus the device-state save (bandwidth limit lifted, stream end awaited) and a raw PPM screen grab, which overlap; the PNG is encoded after the resume.'
        : "The pause fingerprints the RAM file in place (every page the guest has touched is read in 1 MiB chunks; untouched pages are holes, not read) and reads only the changed pages; the device-state save (~10–15 ms inside QEMU for the VGA and CPU state) and a raw PPM screen grab overlap it, and the PNG is encoded after the resume. On a loaded 2-core machine with TCG the recorder also waits for the CPU (the guest runs on a vCPU thread of its own). Next: the device-state save is most of what is left; the VGA's 16 MiB of video RAM goes with it and is scanned by QEMU at each save (not yet measured apart from the CPU and device state): sending that block only where it changed (QEMU's iterative RAM migration of it while the guest runs) is the candidate to try first.";
    case 'verifyGBps':
    case 'verifyRestic': {
      const v = t.verify;
      const rc = peer(r, 'restic');
      const gb = Number(v.bytesChecked) / 1e9;
      return (
        `verify --deep re-read and re-hashed ${(gb * 1000).toFixed(0)} MB of blobs (${String(v.blobsChecked)} blobs) in ${ms(v.ms)} in-process (${ms(v.processMs)} as a process, ${(v.cpuMs / v.ms).toFixed(2)} cores), against ${ms(rc?.checkMs ?? NaN)} for restic check --read-data of its repository of the same epochs (${((rc?.bytes ?? NaN) / 1048576).toFixed(0)} MiB, ${((rc?.checkCpuMs ?? NaN) / (rc?.checkMs ?? NaN)).toFixed(2)} cores). ` +
        'The step is not only the blobs: it replays every event, checks the hash chain, every state root and keyframe and the index against the events (on the JS thread), while the blobs are listed from the index with their locations, each pack block read once and decompressed and hashed in the worker pool. ' +
        (ok
          ? ''
          : "The blob phase alone runs near the pool's speed; what remains is the event and index checks on the JS thread and listing 50 k LevelDB entries, which the GB/s figure counts too, and the two cores shared by the JS thread and both workers.")
      );
    }
    case 'pause1g':
      return ok
        ? 'The pause fingerprints the RAM file in place and reads only the changed pages; pages the guest never touched are holes of the file, not read.'
        : "As for the 256 MiB guest: the pause fingerprints every page the guest has touched (the rest are holes of the RAM file, not read) and reads only the changed pages; on TCG the guest's vCPU thread and, on a loaded machine, other processes compete for the two cores, so the recorder waits for the CPU.";
    case 'recordRss': {
      const p = r.pause?.find((x) => x.sizeMiB === 1024);
      return (
        `Peak ${((p?.peakRssKb ?? NaN) / 1024).toFixed(0)} MiB for a 1 GiB guest: \`ttj record\` holds no copy of the guest RAM, only the pages changed in the (at most two) epochs in flight, the page table (32 bytes a page) and fingerprints (16 bytes a page). ` +
        (ok ? 'The first epoch reads every non-zero page once: a guest that has touched all its RAM peaks at about its RAM size there.' : 'A guest that changes most of its RAM every epoch holds that much.')
      );
    }
    case 'nbdWrite':
      return ok
        ? 'Requests are received by the native socket pump (a thread of its own; a payload that arrives in several pieces is still one view of its receive buffer, so it reaches the journal without a copy); every block-aligned write is hashed as it arrives (SHA-256, natively, the writes of one event-loop turn in one job, two blocks at a time on SHA-NI), appended to a pack file with direct I/O (random data as a stored block, in 4 MiB pieces written in parallel into a file allocated ahead, so that they run as parallel overwrites) and indexed in LevelDB before it is acknowledged; group commits are pipelined (one building while one commits). Across runs on this machine the ratio moves between about 0.57 and 0.69 (qemu-nbd itself between ~1.1 and ~1.9 GB/s on these copies); over 1 GiB copies (the sustained row) it is about 0.6–0.75.'
        : `The limit is CPU on this machine's two vCPUs. ttj's server spends ~1.25 CPU-seconds per GiB written (nbdcopy ~0.4 more) against ~1.5 in all for qemu-nbd with nbdcopy: SHA-256 of every 64 KiB block (~0.37 CPU-seconds per GiB, two blocks at a time on SHA-NI), its JS thread (one LevelDB location entry per block, event encoding, group-commit bookkeeping, GC; the requests are received by the native socket pump, which took about 0.4 CPU-seconds per GiB off it) and the kernel's socket and disk work. The ${r.nbd?.sizeMiB ?? 256} MiB copies of this row land in qemu-nbd's page cache at once; ${r.nbdSustained ? `over ${r.nbdSustained.sizeMiB} MiB (the sustained row) qemu-nbd writes ${Math.round(r.nbdSustained.qemuNbdMBps)} MB/s and ttj reaches ${x2(r.nbdSustained.ratio)} of it` : 'over 1 GiB qemu-nbd slows down more than ttj'}. Closing the rest needs less CPU per byte on the JS thread (fewer and larger index entries per group commit, pack writes of one group overlapping the next) or more cores.`;
    case 'nbdRead':
      return ok
        ? 'A read looks each 64 KiB block up in an in-memory location cache and reads it from its pack file with direct I/O into a reused reply buffer (adjacent stored blocks in one read; compressed blocks go through the decompressed-block cache).'
        : 'qemu-nbd (cache=writeback) reads from the page cache; ttj reads its pack files with direct I/O, from the disk (~1.2–2.5 GB/s here), as qemu-nbd does with cache=none (see the direct-I/O row). Reads through the page cache are available with TTJ_CACHE=writeback.';
    case 'nbdRandomWrite': {
      const f = r.nbdRandom!;
      return ok
        ? `ttj nbd took ${Math.round(f.ttjIops)} random 4 KiB writes a second against qemu-nbd's ${Math.round(f.qemuNbdIops)}.`
        : `ttj nbd took ${Math.round(f.ttjIops)} random 4 KiB writes a second against qemu-nbd's ${Math.round(f.qemuNbdIops)} (median of ${f.runs}). qemu-nbd (cache=writeback) copies each write into the page cache; ttj acknowledges a write once it is in the journal, and to journal a write that changes part of a ${f.blockSize / 1024} KiB block it needs the block's new content address, so it reads the block's old content first (direct I/O from the pack files: the whole block, or its base and patches). Timed inside the server (fio, iodepth 16): groups of ~7.5 writes, ~7 ms to build a group of which ~5 ms waiting for those reads, ~4 ms to commit one (pack append, LevelDB batch, event encoding, one event and one index entry per write), pipelined one building while one commits; the server is idle ~65% of the time (latency-bound) and uses ~0.35 ms of CPU per write, itself a ceiling near 2800 writes a second on one JS thread. Storing only the changed bytes (patches) took the bytes off the write path but not the read. Starting that read as the write arrives and keeping the last 64 MiB of written blocks as bases (src/capture/block-bases.ts) halved a group's wait for it (~5.7 to ~2.9 ms, timed inside the server under load) but did not move this ratio measurably on a loaded machine, where the server is CPU-bound: it spends ~0.6–0.8 ms of CPU per write (its JS thread, hashing and I/O threads) against ~0.05 ms for qemu-nbd. With every base kept (a 1 GiB cache, the whole disk) that falls to ~0.4 ms and the IOPS rise ~1.5x, still far from half of qemu-nbd's: reading the base (a LevelDB lookup per chain level, one pread per patch, the put-together block copied) is about a third of a write's CPU; the rest is copying and SHA-256 of the whole 64 KiB block, the commit (pack append, LevelDB batch, event) and garbage collection. Next: journal the extent under its own address (new DiskWrite fields) and compute whole-block addresses later, at the epoch commit or in the background, so that a write waits only for its append and costs no base read nor 64 KiB hash.`;
    }
    case 'nbdRandomGrowth':
    case 'nbdRandomGrowthSparse': {
      const f = r.nbdRandom!;
      const g = id === 'nbdRandomGrowth' ? f.growth : f.sparseGrowth;
      return ok
        ? `A write that changes part of a block is stored as a patch: only its bytes go to the pack file, with a location entry naming the block's old content as its base (docs/format.md, "Blob locations"); the disk-write event still names the whole block's content address, so folds, state roots and every reader see whole blocks. Random data does not compress, so the journal grew ${x2(g)} bytes per byte written: the 4 KiB of data, the event (~110 bytes: seq, time, chain hash, the block's address) and the index entries (the event, the patch's location with its base, ~70 bytes), LevelDB's log counted once. A chain of patches is cut at 8: the ninth write to a block stores it whole (a block rewritten many times by small writes costs up to about 1 + ${f.blockSize / 1024}/(8 × 4) ≈ ${x2(1 + f.blockSize / 1024 / 32)} bytes per byte).`
        : `The journal grew ${x2(g)} bytes per byte written. A write that changes part of a block is stored as a patch (the changed bytes only), but a chain of patches is cut at 8, and the ninth write to a block stores the whole ${f.blockSize / 1024} KiB block: workloads that rewrite the same blocks many times pay for it.`;
    }
    case 'nbdProtoWrite':
    case 'nbdProtoRead':
      return ok
        ? "ttj's server over a plain file stays within half of qemu-nbd's throughput."
        : "ttj's server over a plain file: every request passes through a JS Buffer and a pread/pwrite in the libuv pool on one JS thread, where qemu-nbd serves from C coroutines; this ratio swings between about 0.4 and 0.75 from run to run on this shared machine.";
    case 'pgAppend': {
      const p = r.pgStore!;
      return (
        `The first epoch took ${ms(p.pg.appendMs)} into PostgreSQL against ${ms(p.embedded.appendMs)} into the embedded store (in-process step times, each in its own process). ` +
        'Both compress the same 1 MiB blocks; PostgreSQL then carries them as bytea parameters (one INSERT per block), writes them to its heap and TOAST tables and again to its write-ahead log, and fsyncs at the commit; the embedded store writes each block once with direct I/O. ' +
        (ok ? '' : 'COPY in binary format (one stream for all blocks of an append) would remove a round trip per block.')
      );
    }
    case 'pgFold': {
      const p = r.pgStore!;
      return (
        `A fold of a later epoch took ${ms(p.pg.foldMs)} from PostgreSQL against ${ms(p.embedded.foldMs)} from the embedded store (median of 3). ` +
        "Blocks come back base64-encoded, four per statement over three pooled connections, and are decoded, decompressed and hashed exactly as pack blocks are; the extra cost is the text encoding and the server reading TOAST chunks. Tried: node-pg's binary result rows (they would skip base64) arrive corrupted (its protocol parser decodes every field as UTF-8 text). Next: `COPY ... TO STDOUT (FORMAT binary)` of the blocks (pg-copy-streams, a new dependency), which sends bytea as it is."
      );
    }
    case 'encAppend': {
      const e = r.encryption!;
      return (
        `The first epoch took ${ms(e.encrypted.appendMs)} into an encrypted journal against ${ms(e.plain.appendMs)} into a plain one (in-process step times after opening, each in its own process). ` +
        'The same 1 MiB blocks are compressed, then each is sealed with AES-256-GCM (AES-NI) in one call, blob addresses are made keyed in one batch per append, events and index values are sealed one by one. ' +
        `Unlocking the key (scrypt, 32 MiB) costs ${ms(e.unlockMs)} once per command, not per byte. ` +
        (ok ? '' : 'The rest is noise on this shared machine, or the sealing of many small events.')
      );
    }
    case 'encFold': {
      const e = r.encryption!;
      return (
        `A fold of a later epoch took ${ms(e.encrypted.foldMs)} from an encrypted journal against ${ms(e.plain.foldMs)} from a plain one (median of 3, after opening). ` +
        "Every block is read and opened whole (a stored block too, where a plain fold copies its items straight from the file), then decompressed into the reader's reused buffers and hashed as in a plain journal. " +
        (ok ? '' : 'Opening decrypts into a new buffer per block (node:crypto writes no caller buffer); decrypting into the reused one would remove an allocation and a copy per MiB.')
      );
    }
    case 'grepVsFold': {
      const g = r.grep!;
      return (
        `ttj grep took ${ms(g.ttj.ms)} (${g.ttj.places} places) against ${ms(g.foldAndGrep.foldMs)} of folds and ${ms(g.foldAndGrep.grepMs)} of grep -c: it searches each of the ${g.ttj.searchedBlobs} distinct stored pages once ` +
        `(${(g.ttj.searchedBytes / 1e6).toFixed(0)} MB, ${g.gbps.toFixed(2)} GB/s), then replays the events once to place the matches; the folds write every epoch's whole memory and re-read the same pages each time. ` +
        (ok ? '' : 'The scan is bound by listing and locating every blob in LevelDB and decompressing the pack blocks on one thread.')
      );
    }
    case 'diffFold': {
      const d = r.diffFold!;
      return (
        `The diff of epochs 0 and 1 (${d.changedPages} pages differ) took ${ms(d.diffMs)} against ${ms(d.foldMs)} for the fold of epoch 1. ` +
        'A diff loads the two states as page tables (a keyframe and the events since, as a fold does before it reads any page) and compares them by their Merkle chunk hashes, entry by entry only in the chunks that differ; it reads and writes no page. ' +
        (ok ? '' : 'Most of its time is loading the two states; diffing from one state to the other by replaying the events between them would load one.')
      );
    }
    case 'cliVersion':
    case 'cliLog': {
      const c = r.cliStart!;
      const both = (f: { wallMs: number; cpuMs: number }) => `${ms(f.wallMs)} (${ms(f.cpuMs)} of CPU)`;
      return (
        `\`node -e 0\` took ${both(c.node)}, \`ttj --version\` ${both(c.version)}, \`ttj --help\` ${both(c.help)}, \`ttj log\` ${both(c.log)} (medians of ${c.runs} runs in turns). ` +
        (id === 'cliVersion'
          ? '`--version` is answered by bin/run.js from package.json before oclif is loaded.'
          : "Commands are found through oclif.manifest.json (written by `npm run build`), so a command loads only its own modules, not every command and the whole library as before (4.7x). What is left is loading modules: oclif itself (about 300 files with semver, ejs, tinyglobby and its help and ux code, which `Config.load` and the command base class import whatever the command) costs about as much as Node's own start, and log adds LevelDB, protobufjs and zstd-napi; CPU profiles show Node's module loader (resolving, reading and compiling files), not ttj's code, as most of the time. " +
            (ok
              ? ''
              : "Tried and not kept: an esbuild bundle of `ttj log` in one file started slower (about 1.3x the unbundled command: the bundle compiles every module the library imports up front). Next steps: read-only commands that do not go through oclif's Config and plugin loading, and Node 22's module compile cache (`module.enableCompileCache`), which Node 20 lacks."))
      );
    }
    case 'pushBytes': {
      const p = r.push!;
      return (
        `The second push sent ${(p.incrementalBytes / 1e6).toFixed(1)} MB (${p.incrementalBlobs} pages and the epoch's events) against ${(p.fullBytes / 1e6).toFixed(1)} MB for the full copy, both uncompressed: only the pages whose content the destination lacks (looked up by address) go over; zero pages are never stored or sent, and keyframes are rebuilt at the destination. ` +
        (ok ? `The ratio is about the share of non-zero pages changed (${p.dirtyFraction * 100}%).` : 'More went over than the pages changed: see the figures.')
      );
    }
    case 'pruneWriterP99': {
      const p = r.prune!;
      return (
        `The writer's p99 went from ${ms(p.writer.without.p99)} to ${ms(p.writer.with.p99)} (p50 ${ms(p.writer.without.p50)} to ${ms(p.writer.with.p50)}) while the prune ran for ${ms(p.pruneMs)}. ` +
        "The writer runs the prune between its appends: the walk over the events gives the event loop back every 8 ms, compaction copies live blobs in 2 MiB steps (read and re-hashed outside the writer's turn), but two steps hold the writer's turn whole: removing the unreferenced blobs (one synchronous LevelDB batch of their deletes, after a lookup of each) and the final count of the blobs. " +
        (ok
          ? 'Those steps are short for a history of this size; the writer waits for them, it is never locked out.'
          : 'Those steps are what the p99 commit waits for, and they grow with the number of blobs removed; the next step is to remove in slices of a few thousand blobs, each batch its own turn (a crash between slices is finished by the next prune, as now). On a loaded machine the prune process and the writer also share the two cores.')
      );
    }
    case 'uiOpen':
    case 'uiOpenVsLog': {
      const u = r.uiOpen!;
      return (
        `The page opened a journal of ${u.frames} frames in ${ms(u.openMs)} (frame 0 drawn, every frame on the scrubber; the filmstrip's thumbnails drawn by ${ms(u.filmstripMs)}, a scrub to a random frame drawn in ${ms(u.scrubMs)}, medians), against ${ms(u.logMs)} for \`log\` of the same journal in-process. ` +
        'Opening is the timeline request (the same index listing as `ttj log`, sent as JSON), Chromium starting a fresh context, loading and parsing the bundle, and drawing the first frame and the filmstrip; thumbnails are fetched lazily and cached. ' +
        (ok
          ? 'Both stay within their limits.'
          : 'The page itself stays well under its 2 s limit; the ratio is missed because the listing it is compared with is a few tens of ms, so the fixed cost of a browser page (a fresh context, the bundle, the first paint) dominates it. Shrinking the timeline JSON (frames as arrays of numbers rather than objects) is the next step on the page side.')
      );
    }
    case 'pushVm':
      return pushVmWhy(r.pushVm!, ok);
    default:
      return '';
  }
}

/** Why the moving-a-VM target was met or missed, from its figures (journal-tools/bench/push-vm.ts). */
export function pushVmWhy(v: PushVmFigures, ok: boolean): string {
  const MB = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const k = v.sentByKind;
  const events = v.secondPush.bytesSent - k.pages - k.diskWrite - k.device - k.frame;
  const limitEpochs = Math.floor((0.2 * v.qemuStreamBytes) / v.bytesPerEpochBehind);
  const perEpochS = v.secondsBehind / v.epochsBehind;
  return (
    `The second push sent ${MB(v.secondPush.bytesSent)} (memory pages ${MB(k.pages)}, disk blocks ${MB(k.diskWrite)}, device state ${MB(k.device)}, frames ${MB(k.frame)}, ${v.secondPush.events} events ${MB(events)}) to bring a destination ${v.epochsBehind} epochs (${v.secondsBehind.toFixed(1)} s) behind up to date; ` +
    `QEMU's own migration stream of the same VM at its last epoch (a VM restored from the head, paused, default capabilities: RAM included, zero pages as flags) is ${MB(v.qemuStreamBytes)}, about its ${MB(v.nonZeroRamBytes)} of non-zero RAM (the ${v.guest} guest on ${v.accel}, ${v.memoryMiB} MiB). ` +
    `Only content the destination lacks goes over, and zero pages never do; but a push replicates the history, so every epoch's version of a page the guest keeps rewriting goes over, not only the newest: the RAM difference between the two epochs alone is ${MB(v.ramDeltaBytes)} (${x2(v.ramDeltaBytes / v.qemuStreamBytes)} of the stream). ` +
    `The bytes therefore grow with the epochs behind, ${MB(v.bytesPerEpochBehind)} an epoch for this guest (${v.guest === 'linux' ? 'its workload writes 256 KiB of random data to tmpfs every ~200 ms, in a fresh dd process each time, and the kernel changes pages around it' : 'its loop rewrites 4 pages every 50 ms'}), so the limit is reached about ${limitEpochs} epochs (${(limitEpochs * perEpochS).toFixed(0)} s) behind` +
    (ok
      ? '; QEMU sends none of the disk, the push includes its writes.'
      : `: this destination is further behind. A \`--follow\` mirror keeps a destination within an epoch or two; sending only the content the head state lacks (a move rather than a copy of the history) would send about the RAM difference.`)
  );
}

/** Where the time goes, from CPU profiles of the ttj steps (256 MiB guest). */
export const PROFILE_NOTES = `## Where the time goes (CPU profiles)

From \`node --cpu-prof dist/journal-tools/bench/ttj-step.js append|fold ...\` on the 256 MiB workload (2 cores), and timing the pieces of an append separately:

- **Append of a later epoch** (~250–300 ms in-process, ~100 ms more as a process): Node startup and loading ttj's modules ~90–100 ms (level, protobufjs, zstd-napi, oclif not included); opening the journal (LevelDB open, loading the head state: the page table and keyframe) ~30 ms; reading the 256 MiB image in 32 MiB chunks ~30 ms; the page scan (zero pages, fingerprints) ~20–30 ms; native SHA-256 of the ~39 k non-zero pages ~45 ms; building the blob list, compressing ~8 MB of changed pages in 1 MiB zstd blocks (synchronous, on the JS thread) ~20 ms; pack fdatasync and a synchronous LevelDB batch. The JS thread is idle about half the time: read, scan and hash run one after another, chunk by chunk.
- **Fold of an epoch** (before round two ~550–620 ms in-process, CPU-bound on the JS thread: zstd decompression ~20%, SHA-256 of every page ~18%, copying and zero-filling pages into the group ~10%, LevelDB \`getMany\` ~5%, GC ~5%): decompression and SHA-256 now run in a pool of worker threads, one per core (\`src/store/block-decode.ts\`; each block's buffers are transferred to a worker and back, not copied), and so do the check of each page against its address and its write to its place in the output (\`Placement\`: pages next to each other in a block and in the file are one \`pwrite\`; zero pages are never written, the output's holes). In a profile of the new fold (\`node --cpu-prof\` writes one profile per thread) each worker spends most of its time in \`decodeBlockInto\` (zstd), \`sha256Ranges\` and \`placeItems\`; the JS thread keeps the lookups and posting the blocks (\`postMessage\`, a few %). Found on the way, measured: memory a process touches for the first time costs a page fault per 4 KiB page on this virtual machine (~18 µs: 64 MiB in ~290 ms), so the two 32 MiB group buffers the fold used to assemble pages in, zero-fill and write, and the fresh decompression buffers of each bulk read, cost more than their copies did; the fold now holds no pages (peak RSS −45 MiB, ~25% faster in an A/B on the same journal), and bulk readers keep their buffers from one read to the next. Starting a worker costs ~30–60 ms of CPU (Node's worker bootstrap, zstd-napi and the addon), started while the state is loaded. On this 2-core machine the two workers and the JS thread share the cores with the kernel's writeback of the output, so the fold uses a little over one core rather than two.
- **verify --deep** (before round two ~2.1 s in-process for 217 MB of blobs): the blobs were listed from the index, then looked up again in batches of 4096 (a second LevelDB \`getMany\` of every blob), copied out one by one and hashed on the JS thread after the event checks. Now the listing carries each blob's location (\`JournalStore.readAllBlobs\`), each block is read once and decoded and hashed in the worker pool, and this runs alongside the event checks. What remains on the JS thread is replaying and checking the events and the index (~0.5–0.7 s for this history) and iterating the ~52 k LevelDB blob entries (~0.2–0.3 s, most of it LevelDB's iterator and GC).

Suggestions for the library, biggest first:
1. Fold: look up the next chunk's locations while this one is decoded and written; one \`pwritev\` per block (its runs of pages) instead of one \`pwrite\` per run. verify --deep: keep the blob listing (addresses and locations) in a compact form instead of one object per blob, and check the events of one batch while the next is read.
2. Append from files: persist the page fingerprints of the head (keyed by head seq, beside the journal) so a file append hashes only pages whose fingerprint changed, as \`ttj record\` does in memory; and double-buffer the 32 MiB reads so reading overlaps scanning and hashing.
3. Compress the epoch's blocks in parallel off the JS thread (zstd compress is synchronous today).
4. CLI startup: commands now load only their own modules (oclif.manifest.json) and \`--version\` skips oclif (see the targets \`ttj --version\` and \`ttj log\`); oclif's own modules remain (an esbuild bundle was tried and started slower).
`;
