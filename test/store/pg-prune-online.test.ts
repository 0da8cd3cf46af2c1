/**
 * `ttj prune` of a PostgreSQL journal while its writer runs in another process: the
 * prune is carried to the writer on the journal's request channel (LISTEN/NOTIFY,
 * docs/stores.md "Requests to the writer") and run there between its appends. The writer
 * is `ttj nbd` serving a disk of the journal that qemu-io keeps writing to; the prune is a
 * `ttj prune` subprocess (and a `ttj label`, carried the same way). Then the channel's own cases: no writer (the prune runs
 * itself), a writer that does not answer (stopped with SIGSTOP: TTJ_LOCKED after the
 * location's timeout), a writer that goes away before it answers (TTJ_WRITER_GONE), a
 * role that may not write the journal (TTJ_PERMISSION), answers larger than one
 * NOTIFY payload, and an error of the request carried back with its code.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError, TtjError } from '../../src/errors.js';
import { fold } from '../../src/journal/fold.js';
import { pruneJournal } from '../../src/journal/prune-journal.js';
import { verify } from '../../src/journal/verify.js';
import { askWriter } from '../../src/store/ask-writer.js';
import { PgStore } from '../../src/store/pg/pg-store.js';
import { childPids, startVictim } from '../helpers/kill-child.js';
import { usePgCluster } from '../helpers/pg-cluster.js';
import { buildPruningJournal, everyPoint, foldPoints, PPS } from '../helpers/pruning-journal.js';
import { run } from '../helpers/run-process.js';
import { ttjAsync, ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait-for.js';
import { withJournal } from '../helpers/with-journal.js';

/** The disk of the pruning journal: 64 blocks of a page. */
const DISK_BYTES = 64 * PPS;

describe('prune of a PostgreSQL journal through its live writer in another process @slow', function () {
  this.timeout(600000);
  const tmp = useTmp();
  const pg = usePgCluster();

  it('ttj prune is run by ttj nbd between its appends while qemu-io writes; kept points fold as before, the writes all land; a stopped writer gives TTJ_LOCKED; with no writer the prune runs itself', async () => {
    const U = pg().url('online');
    await buildPruningJournal(U, tmp.dir, { epochs: 16, labels: { 3: 'kept' } });
    const points = (await everyPoint(U)).filter((p, i) => !p.startsWith('seq:') || i % 5 === 0);
    const before = await foldPoints(U, tmp.dir, points);
    const sock = tmp.path('nbd.sock');
    const server = startVictim(process.execPath, [ttjBin, 'nbd', U, '--disk', 'd', '--socket', sock]);
    let writes = 0;
    try {
      await waitFor(() => existsSync(sock), 60000, 'ttj nbd to listen');
      // qemu-io writes a new pattern over the whole disk again and again while the prune runs.
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          const r = await run('qemu-io', ['-f', 'raw', '-c', `write -P ${(writes % 250) + 1} 0 ${DISK_BYTES}`, `nbd+unix:///d?socket=${sock}`], 120_000);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          writes++;
        }
      })();
      await waitFor(() => writes >= 1, 60000, 'a first write');
      const p = await ttjAsync('prune', U, '--keep-last', '4', '--json');
      const writesDuring = writes;
      await waitFor(() => writes >= writesDuring + 2, 60000, 'writes after the prune');
      stop = true;
      await writer;
      assert.equal(p.code, 0, p.stdout + p.stderr);
      assert.ok([server.child.pid, ...childPids(server.child.pid!)].includes(p.json.ranBy?.pid), `run by ttj nbd: ${JSON.stringify(p.json.ranBy)}`);
      assert.ok(p.json.dropped.epochs >= 10, JSON.stringify(p.json.dropped));
      assert.ok(p.json.collected.removed.blobs > 0, JSON.stringify(p.json.collected));
      assert.ok(p.json.pruneSeq > 0);
      // ttj label goes the same way: the live writer appends the label between its appends.
      const l = await ttjAsync('label', U, 'while serving', '--at', 'head', '--json');
      assert.equal(l.code, 0, l.stdout + l.stderr);
      assert.ok([server.child.pid, ...childPids(server.child.pid!)].includes(l.json.ranBy?.pid), `labelled by ttj nbd: ${JSON.stringify(l.json.ranBy)}`);
      assert.equal((await withJournal(U, (j) => j.label('while serving')))?.epoch, l.json.epoch);

      // A writer that does not answer (stopped): TTJ_LOCKED once the location's timeout has passed.
      const pids = [server.child.pid!, ...childPids(server.child.pid!)];
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        const t0 = Date.now();
        const q = await ttjAsync('prune', `${U}&timeout=3s`, '--keep-last', '2', '--json');
        assert.equal(q.json?.error?.code, ErrorCodes.LOCKED, q.stdout + q.stderr);
        assert.equal(q.code, 4);
        assert.ok(Date.now() - t0 >= 3000, `waited ${Date.now() - t0} ms`);
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
    } finally {
      server.child.kill('SIGINT');
      await server.exited;
    }
    assert.ok(writes >= 3);

    const v = await withJournal(U, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    assert.equal(v.pruned?.length, 1);
    const after = await foldPoints(U, tmp.dir, points);
    let pruned = 0;
    for (const [at, was] of before) {
      const now = after.get(at);
      if (now === ErrorCodes.PRUNED) pruned++;
      else assert.deepEqual(now, was, at);
    }
    assert.ok(pruned > 0);
    assert.notEqual(after.get('epoch:3'), ErrorCodes.PRUNED, 'the labelled epoch is kept');
    // Every write landed: the head has the last pattern written.
    const out = tmp.path('head');
    await withJournal(U, (j) => fold(j, { at: 'head', out }));
    assert.deepEqual(readFileSync(join(out, 'disks', 'd.raw')), Buffer.alloc(DISK_BYTES, ((writes - 1) % 250) + 1));

    // No writer: the prune runs itself.
    const r = await ttjAsync('prune', U, '--keep-last', '2', '--json');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.json.ranBy, undefined);
    assert.equal(r.json.dropped.epochs, 2);
    const v2 = await withJournal(U, (j) => verify(j, { deep: true }));
    assert.equal(v2.ok, true, JSON.stringify(v2.error));
    assert.equal(v2.pruned?.length, 2);
  });

  it('the channel: answers larger than a NOTIFY payload, errors with their code, TTJ_WRITER_GONE when the writer goes away (a prune then runs itself), TTJ_PERMISSION for a role that may not write, TTJ_LOCKED when the holder does not listen', async () => {
    const U = pg().url('channel');
    await buildPruningJournal(U, tmp.dir, { epochs: 2 });
    const store = await PgStore.open(U, { write: true, command: 'test writer' });
    let release: () => void = () => undefined;
    let closed = false;
    try {
      await store.serveRequests(async (name, args) => {
        if (name === 'echo') return { args, big: 'x'.repeat(100_000) };
        if (name === 'hang') return new Promise((r) => (release = () => r(null)));
        throw new TtjError(ErrorCodes.BAD_ARGUMENT, `no request ${name}`);
      });
      const big = Array.from({ length: 2000 }, (_, i) => `point-${i}`);
      assert.deepEqual(await askWriter(U, 'echo', { big }), { args: { big }, big: 'x'.repeat(100_000) });
      await assert.rejects(askWriter(U, 'nothing', {}), (e: unknown) => isTtjError(e, ErrorCodes.BAD_ARGUMENT) && /no request nothing/.test(e.message));

      // A role that may read but not write the journal is not served.
      await pg().sql('CREATE ROLE reader LOGIN');
      await pg().sql('GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader');
      const asReader = U.replace('postgres://postgres@', 'postgres://reader@');
      await assert.rejects(askWriter(asReader, 'echo', {}), (e: unknown) => isTtjError(e, ErrorCodes.PERMISSION));

      // The writer goes away (its session ends) while it runs the request.
      const asked = askWriter(U, 'hang', {});
      asked.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1500));
      await store.close();
      closed = true;
      await assert.rejects(asked, (e: unknown) => isTtjError(e, ErrorCodes.WRITER_GONE));
    } finally {
      release();
      if (!closed) await store.close();
    }
    // A writer that goes away as it is asked to prune: ttj prune's library call opens the journal itself and prunes.
    const leaving = await PgStore.open(U, { write: true, command: 'test writer that leaves' });
    let leftAt = 0;
    await leaving.serveRequests(async () => {
      leftAt = Date.now();
      await leaving.close();
      return new Promise(() => undefined);
    });
    const own = await pruneJournal(U, { policy: { keepLast: 1 } });
    assert.ok(leftAt > 0, 'the request reached the writer');
    assert.equal(own.ranBy, undefined);
    assert.equal(own.dropped.epochs, 1);
    assert.ok(own.pruneSeq! > 0);
    // No writer listening at all: TTJ_LOCKED after the timeout (a writer lock held by a session that does not serve requests).
    const bare = await PgStore.open(U, { write: true, command: 'test writer without requests' });
    try {
      const t0 = Date.now();
      await assert.rejects(askWriter(`${U}&timeout=2s`, 'echo', {}), (e: unknown) => isTtjError(e, ErrorCodes.LOCKED));
      assert.ok(Date.now() - t0 >= 2000);
    } finally {
      await bare.close();
    }
  });
});
