/**
 * The PostgreSQL store under faults, on real processes (ttj as a subprocess, a real
 * PostgreSQL 15 server, qemu-io as the NBD client):
 * 1. the primary is SIGKILLed while `ttj append` and `ttj nbd` write, and its
 *    synchronous standby is promoted: everything acknowledged is on the standby, it
 *    verifies, and writers resume against it;
 * 2. the connection drops at a COMMIT (before it reaches the server, or after, with
 *    the answer lost): the append lands exactly once, or fails with
 *    TTJ_STORE_UNAVAILABLE and a rerun leaves no gap and no duplicate;
 * 3. the server stalls (SIGSTOP): the writer fails with TTJ_STORE_TIMEOUT within a
 *    bound; after SIGCONT the journal is intact and takes appends.
 * The instants come from TTJ_CRASH_SEED (printed on failure), else from the clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../../src/util/hash.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { havePostgres, PgCluster } from '../../journal-tools/postgres/cluster.js';
import { epochImage, LOOP_PAGE_SIZE } from '../helpers/epoch-image.js';
import { rng, sha } from '../helpers/images.js';
import { killHard, startVictim } from '../helpers/kill-child.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { PgFaultProxy } from '../helpers/pg-fault-proxy.js';
import { ttjAsync, ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { run } from '../helpers/run-process.js';
import { usePgCluster } from '../helpers/pg-cluster.js';

const loop = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'append-loop.js');
const SEED = Number(process.env.TTJ_CRASH_SEED ?? Date.now() % 100000);
const seedNote = `TTJ_CRASH_SEED=${SEED}`;
/** The stall test's timeout (the URL's `timeout=3s`), and the bound it asserts on giving up: 2 x the timeout + 3 s for starting Node and ttj (docs/stores.md). */
const STALL_TIMEOUT_MS = 3000;
const STALL_BOUND_MS = 2 * STALL_TIMEOUT_MS + 3000;

/** `ttj ARGS --json` run to its end (asynchronously: the proxy runs in this process): exit status, JSON, the error's code, how long it took. */
async function ttjJson(args: string[]): Promise<{ code: number | null; json: any; errorCode?: string; ms: number; stderr: string }> {
  const t0 = Date.now();
  const r = await ttjAsync(...args, '--json');
  return { code: r.code, json: r.json, errorCode: r.json?.error?.code, ms: Date.now() - t0, stderr: r.stderr + r.stdout };
}

/** `ttj verify URL --deep` passes; returns its JSON. */
async function verifiedDeep(url: string, what: string): Promise<any> {
  const v = await ttjJson(['verify', url, '--deep']);
  assert.equal(v.code, 0, `${what}: ttj verify --deep failed (${seedNote}): ${v.stderr}`);
  assert.equal(v.json.ok, true);
  assert.equal(v.json.deep, true);
  return v.json;
}

/** The events' seqs run 0..head without a gap and each names the previous one's hash; returns the number of events. */
async function checkChain(j: Journal): Promise<number> {
  let prev: Buffer = Buffer.alloc(32);
  let n = 0;
  for await (const { seq, bytes, event } of j.events()) {
    assert.equal(seq, n, `event ${n} is missing (found ${seq})`);
    assert.ok(Buffer.from(event.prevHash ?? []).equals(prev), `event ${seq} does not chain onto event ${seq - 1}`);
    prev = sha256(bytes);
    n++;
  }
  const head = await j.head();
  assert.equal(head.seq, n - 1, 'the head is the last event');
  assert.equal(head.hash, n ? prev.toString('hex') : '');
  return n;
}

/** The epochs of the journal, in order: number, commit seq, labels. */
async function epochList(j: Journal): Promise<{ epoch: number; seq: number; labels: string[] }[]> {
  const out = [];
  for await (const e of j.epochs()) out.push({ epoch: e.epoch, seq: e.seq, labels: e.labels });
  return out;
}

/** Opens the journal at `url`, runs `f`, closes it. */
async function withPg<T>(url: string, f: (j: Journal) => Promise<T>): Promise<T> {
  const j = await Journal.open(url);
  try {
    return await f(j);
  } finally {
    await j.close();
  }
}

/** Folds `at` and returns memory.raw's SHA-256 (the fold's output removed). */
async function foldedMemory(j: Journal, at: string, out: string): Promise<{ epoch: number; memory: string }> {
  const m = await fold(j, { at, out });
  const memory = sha(readFileSync(join(out, 'memory.raw')));
  rmSync(out, { recursive: true, force: true });
  return { epoch: m.epoch, memory };
}

/** A journal `url` with epochs 0..n-1 of the append loop's images (labels e0..). */
async function seedJournal(url: string, n: number, imgPath: string): Promise<void> {
  const w = await JournalWriter.openWriter(url, { pageSize: LOOP_PAGE_SIZE });
  try {
    for (let e = 0; e < n; e++) {
      writeFileSync(imgPath, epochImage(e));
      await appendImages(w, { memory: imgPath, label: `e${e}` });
    }
  } finally {
    await w.close();
  }
}

(havePostgres() ? describe : describe.skip)('PostgreSQL store under faults @slow', function () {
  this.timeout(600_000);
  const tmp = useTmp();

  describe('a primary SIGKILLed under writers, its synchronous standby promoted', () => {
    let primary: PgCluster;
    let standby: PgCluster;
    before(async () => {
      primary = await PgCluster.start();
      standby = await primary.startStandby();
    });
    after(async () => {
      await primary?.destroy();
      await standby?.destroy();
    });

    it('every epoch `ttj append` reported committed and every write qemu-io saw acknowledged (without FUA or flush) through `ttj nbd` is on the standby, both journals verify --deep there, and both writers resume against it', async () => {
      const r = rng(SEED + 10);
      const WRITES = 96;
      const REGION = 64 * 1024;
      const pattern = (i: number) => 1 + ((i * 7) % 250);
      // The disk's last region is for the writer resumed on the standby.
      const img = tmp.path('d0.img');
      writeFileSync(img, Buffer.alloc((WRITES + 1) * REGION));
      const w = await JournalWriter.openWriter(primary.url('disk'));
      await appendImages(w, { disks: [{ name: 'd0', path: img }] });
      const startSeq = w.headSeqNumber;
      await w.close();

      const appender = startVictim(process.execPath, [loop, primary.url('appends')]);
      const sock = tmp.path('nbd.sock');
      const server = startVictim(process.execPath, [ttjBin, 'nbd', primary.url('disk'), '--disk', 'd0', '--socket', sock]);
      let client: ReturnType<typeof run> | undefined;
      try {
        await waitFor(() => existsSync(sock) || server.child.exitCode !== null, 10_000, 'ttj nbd to listen');
        assert.ok(existsSync(sock), `ttj nbd did not start: ${server.err()}`);
        // One write per region (no FUA, no flush), each with its own pattern, in order: every acknowledged write is on the standby.
        const cmds = Array.from({ length: WRITES }, (_, i) => ['-c', `write -P ${pattern(i)} ${i * REGION} ${REGION}`]).flat();
        client = run('qemu-io', ['-f', 'raw', ...cmds, `nbd+unix:///d0?socket=${sock}`], 120_000);
        // Both writers are under way: the loop reported commits, the disk's journal grew.
        const diskHead = async () => Number((await primary.sql<{ s: string }>(`SELECT head_seq AS s FROM ttj_journal WHERE name = 'disk'`))[0]!.s);
        await waitFor(() => appender.out().includes('committed 1') || appender.child.exitCode !== null, 30_000, `the append loop to commit: ${appender.err()}`);
        assert.ok(appender.out().includes('committed 1'), `the append loop did not commit: ${appender.err()}`);
        await waitFor(async () => (await diskHead()) >= startSeq + 3, 30_000, `ttj nbd to journal writes: ${server.err()}`);
        const ms = r() % 700;
        await sleep(ms);
        await primary.kill();
        if (process.env.TTJ_CRASH_DEBUG) console.log(`primary killed ${ms} ms into the writes`);

        // The writers fail: the loop with TTJ_STORE_UNAVAILABLE, the NBD client with errors on the writes after the kill.
        const io = await client;
        const out = io.stdout;
        client = undefined;
        const acked = [...out.matchAll(/wrote \d+\/\d+ bytes at offset (\d+)/g)].map((m) => Number(m[1]) / REGION);
        assert.ok(acked.length > 0 && acked.length < WRITES, `some writes acknowledged before the kill, not all (${acked.length}; ${seedNote})`);
        const loopEnd = await Promise.race([appender.exited, sleep(60_000).then(() => undefined)]);
        assert.ok(loopEnd, 'the append loop gave up');
        assert.notEqual(loopEnd.code, 0);
        assert.match(appender.out(), /failed TTJ_STORE_UNAVAILABLE/, `the loop failed with TTJ_STORE_UNAVAILABLE: ${appender.out()}${appender.err()}`);
        const reported = Math.max(...[...appender.out().matchAll(/committed (\d+)/g)].map((m) => Number(m[1])));
        if (process.env.TTJ_CRASH_DEBUG) console.log(`epoch ${reported} reported committed, ${acked.length} of ${WRITES} writes acknowledged`);
        server.child.kill('SIGTERM');
        const serverEnd = await Promise.race([server.exited, sleep(30_000).then(() => undefined)]);
        assert.ok(serverEnd, 'ttj nbd stopped on SIGTERM with its server gone');

        await standby.promote();

        // The appended epochs: every one reported committed, each folds to its image, by number and by label.
        const A = standby.url('appends');
        await verifiedDeep(A, 'the appends on the promoted standby');
        const headA = await withPg(A, async (j) => {
          const head = await j.head();
          assert.ok(head.epoch >= reported, `epoch ${reported} was reported committed but the standby's head is epoch ${head.epoch} (${seedNote})`);
          assert.equal((await j.epoch(head.epoch))!.seq, head.seq, 'the head is a commit');
          assert.equal(await checkChain(j), head.seq + 1);
          const epochs = [...Array(head.epoch + 1).keys()];
          const sample = epochs.length > 24 ? [...epochs.filter((e) => e % Math.ceil(epochs.length / 20) === 0), reported, head.epoch] : epochs;
          for (const e of sample) {
            for (const at of [`epoch:${e}`, `label:e${e}`]) {
              const f = await foldedMemory(j, at, tmp.path('fa'));
              assert.equal(f.epoch, e, `${at} folds its own epoch`);
              assert.equal(f.memory, sha(epochImage(e)), `${at} folds to epoch ${e}'s image`);
            }
          }
          return head;
        });

        // The disk: every acknowledged write, whole; writes landed in order (a region holds its write or zeroes).
        const B = standby.url('disk');
        await verifiedDeep(B, 'the disk on the promoted standby');
        const regionsAt = async (at: string) =>
          withPg(B, async (j) => {
            const out = tmp.path('fd');
            await fold(j, { at, out });
            const disk = readFileSync(join(out, 'disks', 'd0.raw'));
            rmSync(out, { recursive: true, force: true });
            return disk;
          });
        const disk = await regionsAt('head');
        let present = 0;
        for (let i = 0; i < WRITES; i++) {
          const region = disk.subarray(i * REGION, (i + 1) * REGION);
          const whole = region.equals(Buffer.alloc(REGION, pattern(i)));
          assert.ok(whole || region.equals(Buffer.alloc(REGION)), `region ${i} is neither its write nor zero (${seedNote})`);
          if (whole) {
            assert.equal(i, present, `write ${i} is there but write ${present} is not: writes land in order`);
            present++;
          }
        }
        for (const i of acked) assert.ok(i < present, `acknowledged write ${i} is not on the standby (it has ${present}; ${seedNote})`);

        // The writers resume against the standby: an append continues the chain, ttj nbd serves and journals a write.
        writeFileSync(tmp.path('next.img'), epochImage(headA.epoch + 1));
        const next = await ttjJson(['append', A, '--memory', tmp.path('next.img'), '--label', `e${headA.epoch + 1}`]);
        assert.equal(next.code, 0, `an append on the promoted standby: ${next.stderr}`);
        assert.equal(next.json.firstSeq, headA.seq + 1, 'it continues the chain');
        assert.deepEqual(next.json.epochs, [headA.epoch + 1]);
        await verifiedDeep(A, 'the appends after an append on the promoted standby');
        await withPg(A, async (j) => assert.equal((await foldedMemory(j, `label:e${headA.epoch + 1}`, tmp.path('fn'))).memory, sha(epochImage(headA.epoch + 1))));

        const sock2 = tmp.path('nbd2.sock');
        const server2 = startVictim(process.execPath, [ttjBin, 'nbd', B, '--disk', 'd0', '--socket', sock2, '--json']);
        await waitFor(() => existsSync(sock2) || server2.child.exitCode !== null, 10_000, 'ttj nbd on the standby to listen');
        assert.ok(existsSync(sock2), `ttj nbd on the standby did not start: ${server2.err()}`);
        const last = await run('qemu-io', ['-f', 'raw', '-c', `write -f -P 238 ${WRITES * REGION} ${REGION}`, `nbd+unix:///d0?socket=${sock2}`]);
        assert.match(last.stdout, /wrote 65536\/65536 bytes/, `the write through ttj nbd on the standby: ${last.stderr}`);
        server2.child.kill('SIGTERM');
        const end2 = await server2.exited;
        assert.equal(end2.code, 0, server2.err());
        assert.ok(JSON.parse(server2.out()).writes >= 1);
        await verifiedDeep(B, 'the disk after ttj nbd on the promoted standby');
        const after = await regionsAt('head');
        assert.ok(after.subarray(WRITES * REGION).equals(Buffer.alloc(REGION, 238)), 'the write is journaled');
        assert.ok(after.subarray(0, WRITES * REGION).equals(disk.subarray(0, WRITES * REGION)), 'the rest of the disk is as it was');
      } finally {
        for (const v of [appender, server]) if (v.child.exitCode === null && v.child.signalCode === null) v.child.kill('SIGKILL');
        await client;
      }
    });
  });

  describe('a dropped connection and a stalled server', () => {
    const cluster = usePgCluster();

    for (const mode of ['before', 'after'] as const) {
      it(`the connection cut at COMMIT (${mode} forwarding it): the append lands exactly once; with the server unreachable after the cut, TTJ_STORE_UNAVAILABLE (exit 8), the journal intact, and a rerun leaves no gap and no duplicate`, async () => {
        const name = `cut-${mode}`;
        const direct = cluster().url(name);
        const img = tmp.path('img');
        await seedJournal(direct, 2, img);
        const proxy = await PgFaultProxy.start(cluster().port);
        try {
          const via = cluster().url(name, { port: proxy.port });

          // 1. The server stays reachable: the append reconnects, learns the outcome, and lands once.
          writeFileSync(img, epochImage(2));
          proxy.arm(mode);
          const a = await ttjJson(['append', via, '--memory', img, '--label', 'e2']);
          assert.equal(proxy.cuts, 1, 'the proxy cut the connection at the COMMIT');
          assert.equal(a.code, 0, `the append succeeds after the cut: ${a.stderr}`);
          assert.ok(proxy.connections >= 2, 'it reconnected');
          await withPg(direct, async (j) => {
            const n = await checkChain(j);
            assert.equal(a.json.lastSeq, n - 1, 'the append reported the head');
            const epochs = await epochList(j);
            assert.deepEqual(
              epochs.map((e) => e.labels),
              [['e0'], ['e1'], ['e2']],
              'exactly one epoch more',
            );
            assert.equal((await foldedMemory(j, 'label:e2', tmp.path('f2'))).memory, sha(epochImage(2)));
          });
          await verifiedDeep(direct, `after a cut ${mode} the COMMIT`);

          // 2. The server is unreachable after the cut: the append fails, clearly, and whether it landed is as the cut says.
          writeFileSync(img, epochImage(3));
          const before = await withPg(direct, (j) => j.head());
          proxy.arm(mode, { refuseAfter: true });
          const b = await ttjJson(['append', via, '--memory', img, '--label', 'e3']);
          assert.equal(b.code, 8, `exit 8: ${b.stderr}`);
          assert.equal(b.errorCode, 'TTJ_STORE_UNAVAILABLE');
          await verifiedDeep(direct, `after a cut ${mode} the COMMIT with the server unreachable`);
          const mid = await withPg(direct, async (j) => {
            const head = await j.head();
            const n = await checkChain(j);
            if (mode === 'before') assert.deepEqual(head, before, 'a COMMIT that never reached the server left nothing');
            else {
              // The commit happened: the epoch is there, whole, and the head is its commit.
              assert.equal(head.epoch, before.epoch + 1);
              assert.equal((await j.epoch(head.epoch))!.seq, head.seq, 'the head is a commit');
              assert.equal((await foldedMemory(j, 'label:e3', tmp.path('f3'))).memory, sha(epochImage(3)));
            }
            assert.equal(n, head.seq + 1);
            return head;
          });

          // The rerun: one more epoch chained on the head; after a commit that landed, it stores no byte twice.
          proxy.reopen();
          const c = await ttjJson(['append', via, '--memory', img, '--label', 'e3']);
          assert.equal(c.code, 0, `the rerun succeeds: ${c.stderr}`);
          await verifiedDeep(direct, `after the rerun (cut ${mode})`);
          await withPg(direct, async (j) => {
            const head = await j.head();
            assert.equal(c.json.firstSeq, mid.seq + 1, 'the rerun chains on the head');
            assert.equal(c.json.lastSeq, head.seq);
            const n = await checkChain(j);
            assert.equal(n, head.seq + 1);
            const epochs = await epochList(j);
            const labels = epochs.map((e) => e.labels.join());
            assert.deepEqual(labels, mode === 'before' ? ['e0', 'e1', 'e2', 'e3'] : ['e0', 'e1', 'e2', 'e3', 'e3'], 'no epoch lost, none twice but the rerun');
            if (mode === 'after') assert.equal(c.json.newBlobs, 0, 'the rerun of an append that landed stores nothing new');
            assert.equal((await foldedMemory(j, 'head', tmp.path('fh'))).memory, sha(epochImage(3)));
          });
        } finally {
          await proxy.close();
        }
      });
    }

    it(`a stalled server (SIGSTOP): a writer with timeout=3s fails with TTJ_STORE_TIMEOUT (exit 8) within ${STALL_BOUND_MS / 1000} s, mid-append or at its start; after SIGCONT the journal verifies, its head is a commit, and appends work`, async () => {
      const name = 'stall';
      const direct = cluster().url(name);
      const url = cluster().url(name, { params: { timeout: '3s' } });
      // Big epochs (random pages), so that an append runs for a while: stalled in the middle of its transaction.
      const r = rng(SEED + 3);
      const bigImage = (): Buffer => {
        const b = Buffer.alloc(64 << 20);
        for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(r() >>> 0, i);
        return b;
      };
      const first = tmp.path('first.img');
      const big = tmp.path('big.img');
      const firstImage = bigImage();
      writeFileSync(first, firstImage);
      const bigSha = (() => {
        const b = bigImage();
        writeFileSync(big, b);
        return sha(b);
      })();
      const seeded = await ttjJson(['append', direct, '--memory', first, '--label', 'first']);
      assert.equal(seeded.code, 0, seeded.stderr);
      const before = await withPg(direct, (j) => j.head());

      const writer = startVictim(process.execPath, [ttjBin, 'append', url, '--memory', big, '--label', 'big', '--json']);
      // Stall the server once the writer's transaction is under way (a statement of it running, or between two).
      const inTransaction = async () =>
        Number(
          (
            await cluster().sql<{ n: string }>(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'ttj append%' AND xact_start IS NOT NULL AND query <> 'BEGIN' AND query NOT LIKE 'SELECT pg_try_advisory_lock%'`,
            )
          )[0]!.n,
        ) > 0;
      await waitFor(async () => writer.child.exitCode !== null || (await inTransaction()), 60_000, "the writer's transaction");
      assert.equal(writer.child.exitCode, null, `the writer ended before its transaction: ${writer.err()}${writer.out()}`);
      await sleep(r() % 100);
      cluster().signalAll('SIGSTOP');
      const stalledAt = Date.now();
      const exit = await Promise.race([writer.exited, sleep(60_000).then(() => undefined)]);
      const tookMs = Date.now() - stalledAt;
      if (!exit) await killHard(writer);
      assert.ok(exit, `the writer did not give up within 60 s of the stall (${seedNote})`);
      assert.equal(exit.code, 8, `exit 8: ${writer.err()}${writer.out()}`);
      assert.equal(JSON.parse(writer.out()).error.code, 'TTJ_STORE_TIMEOUT');
      assert.ok(tookMs < STALL_BOUND_MS, `the writer gave up ${tookMs} ms after the stall (bound ${STALL_BOUND_MS} ms)`);

      // A writer that starts against the stalled server gives up too, within the bound from its start.
      const late = await ttjJson(['append', url, '--memory', first, '--label', 'again']);
      assert.equal(late.code, 8, `exit 8: ${late.stderr}`);
      assert.equal(late.errorCode, 'TTJ_STORE_TIMEOUT');
      assert.ok(late.ms < STALL_BOUND_MS, `the writer gave up after ${late.ms} ms (bound ${STALL_BOUND_MS} ms)`);
      if (process.env.TTJ_CRASH_DEBUG) console.log(`gave up ${tookMs} ms after the stall; a writer started against it gave up after ${late.ms} ms`);

      cluster().signalAll('SIGCONT');
      await verifiedDeep(direct, 'after the stall');
      // The stalled append is there whole or not at all: not at all unless the stall caught its COMMIT already sent
      // (the server, continued, reads and runs it before it sees the connection gone).
      const head = await withPg(direct, async (j) => {
        const h = await j.head();
        assert.equal((await j.epoch(h.epoch))!.seq, h.seq, 'the head is a commit');
        assert.equal(await checkChain(j), h.seq + 1);
        if (h.seq !== before.seq) {
          assert.equal(h.epoch, before.epoch + 1, 'the stalled append landed whole, once');
          assert.equal((await foldedMemory(j, 'label:big', tmp.path('fb'))).memory, bigSha);
        } else assert.deepEqual(h, before, 'the stalled append left nothing');
        if (process.env.TTJ_CRASH_DEBUG) console.log(`the stalled append ${h.seq === before.seq ? 'left nothing' : 'landed'}`);
        return h;
      });
      // Appends work again (the stalled writer's session is gone: its lock is free).
      const again = await ttjJson(['append', url, '--memory', first, '--label', 'again']);
      assert.equal(again.code, 0, `an append after SIGCONT: ${again.stderr}`);
      assert.equal(again.json.firstSeq, head.seq + 1);
      await verifiedDeep(direct, 'after an append that follows the stall');
      await withPg(direct, async (j) => assert.equal((await foldedMemory(j, 'label:again', tmp.path('f'))).memory, sha(firstImage)));
    });
  });
});
