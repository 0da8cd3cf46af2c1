/**
 * Crash safety: writers killed with SIGKILL at random instants (`ttj append` in a loop,
 * `ttj nbd` under qemu-io writes, `ttj record` of the boot-sector guest). After each
 * kill the journal verifies (--deep) and every point folds: every acknowledged write
 * and every committed epoch is there, exactly. The instants come from TTJ_CRASH_SEED
 * (printed on failure), else from the clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, type TtjError } from '../../src/errors.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold, type FoldManifest } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { epochImage } from '../helpers/epoch-image.js';
import { rng, sha } from '../helpers/images.js';
import { childPids, cmdline, killHard, killPid, startVictim } from '../helpers/kill-child.js';
import { sleep } from '../helpers/wait-for.js';
import { useTmp } from '../helpers/tmp.js';
import { run } from '../helpers/run-process.js';
import { withJournal } from '../helpers/with-journal.js';

const here = dirname(fileURLToPath(import.meta.url));
const loop = join(here, '..', 'helpers', 'append-loop.js');
const bin = join(here, '..', '..', '..', 'bin', 'run.js');
const SEED = Number(process.env.TTJ_CRASH_SEED ?? Date.now() % 100000);

/** verify --deep must pass; returns the head. */
async function verified(j: Journal, what: string): Promise<Awaited<ReturnType<Journal['head']>>> {
  const v = await verify(j, { deep: true });
  assert.equal(v.ok, true, `${what} (TTJ_CRASH_SEED=${SEED}): ${JSON.stringify(v.error)}`);
  return j.head();
}

/** Folds `at` into a fresh directory under `out`; returns the manifest and the directory. */
async function foldAt(j: Journal, at: string, out: string): Promise<{ m: FoldManifest; dir: string }> {
  const dir = join(out, at.replace(/[^a-z0-9]/gi, '_'));
  return { m: await fold(j, { at, out: dir }), dir };
}

/** True when the journal at `J` was made but has no header event yet (Journal.open says NOT_A_JOURNAL). */
async function headerless(J: string): Promise<boolean> {
  try {
    await (await Journal.open(J)).close();
    return false;
  } catch (e) {
    if ((e as TtjError).code === ErrorCodes.NOT_A_JOURNAL) return true;
    throw e;
  }
}

describe('crash safety (writers killed with SIGKILL at random instants)', function () {
  this.timeout(300000);
  const tmp = useTmp();

  it('ttj append in a loop: the journal verifies, and every committed epoch and its label fold to its image', async () => {
    const J = tmp.path('j');
    const r = rng(SEED);
    let reported = -1;
    let folded = -1;
    // Eight rounds, and more while nothing has committed yet (a loaded machine starts Node
    // slowly): those let the loop run longer each time before the kill.
    for (let round = 0; round < 8 || (reported < 1 && round < 32); round++) {
      const ms = (250 + (r() % 900)) * (round < 8 ? 1 : 1 + (round - 7) / 2);
      const v = startVictim(process.execPath, [loop, J]);
      await sleep(ms);
      await killHard(v);
      for (const m of v.out().matchAll(/committed (\d+)/g)) reported = Math.max(reported, Number(m[1]));
      if (!existsSync(join(J, 'ttj-journal.json'))) continue; // killed before the journal existed
      if (reported < 0 && (await headerless(J))) continue; // killed between making the journal and writing its header
      await withJournal(J, async (j) => {
        const head = await verified(j, `round ${round}, killed after ${ms} ms`);
        assert.ok(head.epoch >= reported, `epoch ${reported} was reported committed but the head is ${head.epoch}`);
        if (head.epoch < 0) {
          // Killed after the journal was made, before its first commit: nothing to fold, and fold says so.
          await assert.rejects(foldAt(j, 'head', tmp.path(`o${round}`)), (e: TtjError) => e.code === ErrorCodes.NO_EPOCH);
          return;
        }
        // Every epoch committed since the last round, by number and by label, and the head.
        const points = [`head`];
        for (let e = folded + 1; e <= head.epoch; e++) points.push(`epoch:${e}`, `label:e${e}`);
        for (const at of points) {
          const { m, dir } = await foldAt(j, at, tmp.path(`o${round}`));
          assert.equal(sha(readFileSync(join(dir, 'memory.raw'))), sha(epochImage(m.epoch)), `round ${round}: ${at} folds to epoch ${m.epoch}'s image`);
          if (at !== 'head') assert.equal(String(m.epoch), at.replace(/^(epoch:|label:e)/, ''), `${at} folds its own epoch`);
          rmSync(dir, { recursive: true, force: true });
        }
        folded = head.epoch;
      });
    }
    assert.ok(reported >= 1, 'the loop committed something');
  });

  /**
   * `ttj nbd` killed under `WRITES` qemu-io writes of `REGION` bytes every `STRIDE` bytes from
   * `SHIFT` (one write per region, each with its own pattern, in order).
   */
  async function nbdCrash(WRITES: number, REGION: number, STRIDE: number, SHIFT: number, seed: number): Promise<void> {
    const r = rng(SEED + seed);
    const pattern = (i: number) => 1 + ((i * 7) % 250);
    let ackedTotal = 0;
    for (let iter = 0; iter < 4; iter++) {
      const J = tmp.path(`n${iter}`);
      const img = tmp.path(`d${iter}.img`);
      writeFileSync(img, Buffer.alloc(Math.ceil((WRITES * STRIDE) / 512) * 512));
      const w = await JournalWriter.openWriter(J);
      await appendImages(w, { disks: [{ name: 'd0', path: img }] });
      const startSeq = w.headSeqNumber;
      await w.close();

      const sock = tmp.path(`n${iter}.sock`);
      const server = startVictim(process.execPath, [bin, 'nbd', J, '--disk', 'd0', '--socket', sock]);
      for (let i = 0; i < 200 && !existsSync(sock); i++) await sleep(50);
      assert.ok(existsSync(sock), `ttj nbd did not start: ${server.err()}`);
      // One write per region, each with its own pattern, in order.
      const cmds = Array.from({ length: WRITES }, (_, i) => ['-c', `write -P ${pattern(i)} ${SHIFT + i * STRIDE} ${REGION}`]).flat();
      const client = run('qemu-io', ['-f', 'raw', ...cmds, `nbd+unix:///d0?socket=${sock}`], 120_000);
      const ms = 20 + (r() % 400);
      await sleep(ms);
      await killHard(server);
      const out = (await client).stdout;
      const acked = [...out.matchAll(/wrote \d+\/\d+ bytes at offset (\d+)/g)].map((m) => (Number(m[1]) - SHIFT) / STRIDE);
      ackedTotal += acked.length;
      if (process.env.TTJ_CRASH_DEBUG) console.log(`nbd iteration ${iter}: killed after ${ms} ms, ${acked.length} of ${WRITES} writes acknowledged`);

      await withJournal(J, async (j) => {
        const head = await verified(j, `iteration ${iter}, killed ${ms} ms into the writes`);
        // A region holds its whole write or nothing; writes land in order; every acknowledged one is at the head.
        let before = 0;
        const seqs = Array.from({ length: head.seq - startSeq + 1 }, (_, k) => startSeq + k);
        const sample = seqs.length > 24 ? [...seqs.filter((_, k) => k % Math.ceil(seqs.length / 20) === 0), head.seq] : seqs;
        for (const s of sample) {
          const { dir } = await foldAt(j, `seq:${s}`, tmp.path(`no${iter}`));
          const disk = readFileSync(join(dir, 'disks', 'd0.raw'));
          rmSync(dir, { recursive: true, force: true });
          let present = 0;
          for (let i = 0; i < WRITES; i++) {
            const region = disk.subarray(SHIFT + i * STRIDE, SHIFT + i * STRIDE + REGION);
            const whole = region.equals(Buffer.alloc(REGION, pattern(i)));
            assert.ok(whole || region.equals(Buffer.alloc(REGION)), `seq:${s}: region ${i} is neither its write nor zero (TTJ_CRASH_SEED=${SEED})`);
            if (whole) {
              assert.equal(i, present, `seq:${s}: write ${i} is there but write ${present} is not: writes land in order`);
              present++;
            }
          }
          assert.ok(present >= before, `seq:${s} lost writes`);
          before = present;
          if (s === head.seq) for (const i of acked) assert.ok(i < present, `acknowledged write ${i} is not in the journal (head has ${present})`);
        }
      });
      // The journal takes a writer again.
      await (await JournalWriter.openWriter(J)).close();
    }
    assert.ok(ackedTotal > 0, 'some writes were acknowledged before the kills');
  }

  it('ttj nbd under qemu-io writes: the journal verifies, every acknowledged write is there, and every seq folds to whole writes in order', async () => {
    await nbdCrash(96, 64 * 1024, 64 * 1024, 0, 1);
  });

  it('ttj nbd under small unaligned qemu-io writes (several in a block: patches on patches): the same', async () => {
    await nbdCrash(2000, 3001, 4608, 77, 2);
  });

  it('ttj record of the boot-sector guest: the journal verifies, every epoch seen committed is there, and epochs and frames fold', async () => {
    const r = rng(SEED + 2);
    const image = ensureBootSectorGuest();
    let observedTotal = 0;
    for (let iter = 0; iter < 3; iter++) {
      const J = tmp.path(`r${iter}`);
      const rec = startVictim(process.execPath, [bin, 'record', J, '--memory', '32M', '--disk', `boot=${image}`, '--interval', '150ms', '--fps', '4']);
      // A reader follows the journal while it is recorded: the last epoch it saw committed.
      let observed = -1;
      const follow = async () => {
        if (!existsSync(join(J, 'ttj-journal.json'))) return;
        try {
          observed = Math.max(observed, await withJournal(J, async (j) => (await j.head()).epoch));
        } catch {
          /* not yet readable */
        }
      };
      for (let i = 0; i < 400 && observed < 0 && rec.child.exitCode === null; i++) {
        await follow();
        await sleep(50);
      }
      assert.ok(observed >= 0, `record committed no epoch: ${rec.err()}`);
      const until = Date.now() + 200 + (r() % 2000);
      while (Date.now() < until) {
        await follow();
        await sleep(20 + (r() % 80));
      }
      const qemu = childPids(rec.child.pid!).filter((p) => cmdline(p)[0]?.includes('qemu'));
      const ramDirs = qemu.flatMap((p) => cmdline(p).flatMap((a) => [...a.matchAll(/mem-path=([^,]+)/g)].map((m) => dirname(m[1]!))));
      await killHard(rec);
      for (const p of qemu) await killPid(p);
      for (const d of ramDirs) if (d.startsWith('/dev/shm/ttj-record-') || d.startsWith('/tmp/ttj-record-')) rmSync(d, { recursive: true, force: true });
      observedTotal += observed + 1;
      if (process.env.TTJ_CRASH_DEBUG) console.log(`record iteration ${iter}: epoch ${observed} seen committed before the kill`);

      await withJournal(J, async (j) => {
        const head = await verified(j, `iteration ${iter}`);
        assert.ok(head.epoch >= observed, `epoch ${observed} was seen committed but the head is ${head.epoch}`);
        const epochs = new Set([0, observed, head.epoch]);
        for (let k = 0; k < 3; k++) epochs.add(r() % (head.epoch + 1));
        const points = [...[...epochs].map((e) => `epoch:${e}`), 'head', ...(head.frame >= 0 ? [`frame:${head.frame}`, `frame:${r() % (head.frame + 1)}`] : [])];
        for (const at of points) {
          const { m, dir } = await foldAt(j, at, tmp.path(`ro${iter}`));
          if (at.startsWith('epoch:')) assert.equal(m.epoch, Number(at.slice(6)));
          assert.equal(m.memory?.size, 32 << 20, `${at}: memory.raw`);
          assert.ok(existsSync(join(dir, 'disks', 'boot.raw')) && existsSync(join(dir, 'device.bin')), `${at}: disk and device state`);
          if (at.startsWith('frame:')) assert.ok(existsSync(join(dir, 'frame.png')), `${at}: frame.png`);
          rmSync(dir, { recursive: true, force: true });
        }
      });
      await (await JournalWriter.openWriter(J)).close();
    }
    assert.ok(observedTotal > 0);
  });
});
