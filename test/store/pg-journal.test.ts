/**
 * Journals in PostgreSQL, end to end, against a real PostgreSQL 15 server (a throwaway
 * cluster): the commands take a postgres:// URL wherever they take a journal directory.
 * Append/fold round trips, a rogue writer that cannot fork the chain, NBD writes
 * journaled before they are acknowledged, and a QEMU guest recorded into PostgreSQL and
 * resumed from one of its frames.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from '../../src/errors.js';
import { record } from '../../src/capture/record.js';
import { restore } from '../../src/replay/restore.js';
import { QmpClient } from '../../src/capture/qemu/qmp-client.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { COUNTER_ADDR, COUNTER_MAGIC, MAGIC_ADDR, ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { dirty, memoryImage, sha } from '../helpers/images.js';
import { killHard, startVictim } from '../helpers/kill-child.js';
import { ttj, ttjBin } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { run } from '../helpers/run-process.js';
import { untilCounted } from '../helpers/boot-sector-guest.js';
import { smallJournal } from '../helpers/small-journal.js';
import { sleep, waitFor } from '../helpers/wait-for.js';
import { usePgCluster } from '../helpers/pg-cluster.js';

describe('journals in PostgreSQL, end to end (commands take a postgres:// URL) @slow', function () {
  this.timeout(180000);
  const tmp = useTmp();
  const pg = usePgCluster();

  it('ttj append, log, verify --deep and fold: every epoch folds to the bytes appended', async () => {
    const U = pg().url('round-trip');
    const mem = memoryImage(2048, 4096, 1);
    const disk = memoryImage(1024, 4096, 2);
    const images: { mem: string; disk: string }[] = [];
    for (let e = 0; e < 3; e++) {
      if (e) {
        dirty(mem, 4096, 100, 10 + e);
        dirty(disk, 4096, 30, 20 + e);
      }
      const m = tmp.path(`m${e}`);
      const d = tmp.path(`d${e}`);
      writeFileSync(m, mem);
      writeFileSync(d, disk);
      images.push({ mem: sha(mem), disk: sha(disk) });
      const r = ttj(['append', U, '--memory', m, '--disk', `d0=${d}`, '--label', `e${e}`, '--json']);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.deepEqual(r.json.epochs, [e]);
    }
    const l = ttj(['log', U, '--json']);
    assert.equal(l.status, 0, l.stderr);
    assert.deepEqual(
      l.json.epochs.map((e: { epoch: number }) => e.epoch),
      [0, 1, 2],
    );
    const v = ttj(['verify', U, '--deep', '--json']);
    assert.equal(v.status, 0, v.stdout);
    assert.equal(v.json.ok, true);
    for (let e = 0; e < 3; e++) {
      const out = tmp.path(`f${e}`);
      const f = ttj(['fold', U, '--at', `label:e${e}`, '--out', out, '--json']);
      assert.equal(f.status, 0, f.stdout + f.stderr);
      assert.equal(sha(readFileSync(join(out, 'memory.raw'))), images[e]!.mem, `epoch ${e}: memory`);
      assert.equal(sha(readFileSync(join(out, 'disks', 'd0.raw'))), images[e]!.disk, `epoch ${e}: disk`);
    }
    // A later epoch holds only what changed.
    assert.ok(l.json.epochs[1].dirtyPages <= 100 && l.json.epochs[1].diskBlocks <= 30, JSON.stringify(l.json.epochs[1]));
  });

  it('one writer at a time (TTJ_LOCKED, exit 4), and an event a rogue client stored past the head is never written over', async () => {
    const U = pg().url('one-writer');
    const m = tmp.path('m');
    writeFileSync(m, memoryImage(64, 4096, 3));
    assert.equal(ttj(['append', U, '--memory', m]).status, 0);
    const w = await JournalWriter.openWriter(U, { command: 'test writer' });
    try {
      const r = ttj(['append', U, '--memory', m, '--json']);
      assert.equal(r.status, 4, r.stdout);
      assert.equal(r.json.error.code, ErrorCodes.LOCKED);
      assert.match(r.json.error.message, /test writer/);
    } finally {
      await w.close();
    }
    // A client that bypasses ttj stores an event at the next seq: ttj's next append refuses to build on a head that is behind.
    const [{ id, head_seq }] = await pg().sql<{ id: number; head_seq: string }>(`SELECT id, head_seq FROM ttj_journal WHERE name = 'one-writer'`);
    await pg().sql('INSERT INTO ttj_event (journal, seq, bytes) VALUES ($1, $2, $3)', [id, Number(head_seq) + 1, Buffer.from('rogue')]);
    const before = await pg().sql(`SELECT count(*)::int AS n FROM ttj_event WHERE journal = $1`, [id]);
    const r = ttj(['append', U, '--memory', m, '--json']);
    assert.equal(r.status, 3, r.stdout);
    assert.equal(r.json.error.code, ErrorCodes.CORRUPT_STORE);
    assert.deepEqual(await pg().sql(`SELECT count(*)::int AS n FROM ttj_event WHERE journal = $1`, [id]), before, 'nothing written');
    // And two events at one seq cannot be stored at all (the primary key).
    await assert.rejects(pg().sql('INSERT INTO ttj_event (journal, seq, bytes) VALUES ($1, $2, $3)', [id, 0, Buffer.from('fork')]), /duplicate key/);
  });

  it('a damaged head and index in PostgreSQL: log says CORRUPT_STORE (exit 3), ttj repair rebuilds them from the events, verify --deep passes', async () => {
    const U = pg().url('repair');
    writeFileSync(tmp.path('rm'), memoryImage(64, 4096, 9));
    for (let i = 0; i < 2; i++) assert.equal(ttj(['append', U, '--memory', tmp.path('rm')]).status, 0);
    await pg().sql(`UPDATE ttj_journal SET head_seq = head_seq - 1 WHERE name = 'repair'`);
    await pg().sql(`DELETE FROM ttj_index WHERE journal = (SELECT id FROM ttj_journal WHERE name = 'repair') AND key LIKE 'ep/%'`);
    const l = ttj(['log', U, '--json']);
    assert.equal(l.status, 3, l.stdout);
    assert.equal(l.json.error.code, ErrorCodes.CORRUPT_STORE);
    const r = ttj(['repair', U, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const v = ttj(['verify', U, '--deep', '--json']);
    assert.equal(v.json.ok, true, v.stdout);
    assert.deepEqual(
      ttj(['log', U, '--json']).json.epochs.map((e: { epoch: number }) => e.epoch),
      [0, 1],
    );
  });

  it('bad locations get clear codes: no journal named (exit 2), no such journal (exit 1), no server (TTJ_STORE_UNAVAILABLE, exit 8), init twice', async () => {
    const noName = ttj([
      'log',
      pg()
        .url('x')
        .replace(/&?journal=x/, ''),
      '--json',
    ]);
    assert.equal(noName.status, 2);
    assert.equal(noName.json.error.code, ErrorCodes.BAD_ARGUMENT);
    const missing = ttj(['log', pg().url('never-made'), '--json']);
    assert.equal(missing.status, 1, missing.stdout);
    assert.equal(missing.json.error.code, ErrorCodes.NOT_A_JOURNAL);
    const down = ttj(['log', 'postgres://postgres@127.0.0.1:1/postgres?journal=x', '--json']);
    assert.equal(down.status, 8, down.stdout);
    assert.equal(down.json.error.code, ErrorCodes.STORE_UNAVAILABLE);
    assert.equal(ttj(['init', pg().url('twice')]).status, 0);
    const again = ttj(['init', pg().url('twice'), '--json']);
    assert.equal(again.json.error.code, ErrorCodes.JOURNAL_EXISTS);
  });

  it('ttj prune --dry-run reads a PostgreSQL journal: the same plan as for its copy in a directory; without --dry-run it prunes both alike', async () => {
    const J = tmp.path('prune-src');
    const U = pg().url('prune');
    await smallJournal(J, 5, { 0: ['base'] });
    assert.equal(ttj(['push', J, U]).status, 0);
    const args = ['--keep-last', '1', '--no-keep-labelled', '--dry-run', '--json'];
    const dir = ttj(['prune', J, ...args]);
    const db = ttj(['prune', U, ...args]);
    assert.equal(db.status, 0, db.stdout + db.stderr);
    assert.deepEqual({ ...db.json, journal: '' }, { ...dir.json, journal: '' });
    assert.deepEqual(db.json.freed, { blobs: 1, bytes: 4096 });
    const real = ttj(['prune', U, '--keep-last', '1', '--no-keep-labelled', '--json']);
    const realDir = ttj(['prune', J, '--keep-last', '1', '--no-keep-labelled', '--json']);
    assert.equal(real.status, 0, real.stdout + real.stderr);
    assert.equal(real.json.dropped.epochs, 4);
    assert.deepEqual(real.json.collected.removed, realDir.json.collected.removed);
    assert.equal(ttj(['fold', U, '--at', 'epoch:0', '--out', tmp.path('f0'), '--json']).json.error.code, ErrorCodes.PRUNED);
    assert.equal(ttj(['verify', U, '--deep', '--json']).json.ok, true);
  });

  it('ttj push directory → PostgreSQL → directory: the same events byte for byte, and a second push sends only what changed', async () => {
    const J = tmp.path('push-src');
    const U = pg().url('pushed');
    const mem = memoryImage(1024, 4096, 7);
    writeFileSync(tmp.path('pm'), mem);
    assert.equal(ttj(['append', J, '--memory', tmp.path('pm')]).status, 0);
    const first = ttj(['push', J, U, '--json']);
    assert.equal(first.status, 0, first.stdout + first.stderr);
    dirty(mem, 4096, 20, 8);
    writeFileSync(tmp.path('pm'), mem);
    assert.equal(ttj(['append', J, '--memory', tmp.path('pm')]).status, 0);
    const second = ttj(['push', J, U, '--json']);
    assert.equal(second.status, 0, second.stdout);
    assert.ok(second.json.blobsSent <= 20 && second.json.blobsSent > 0, JSON.stringify(second.json));
    assert.ok(second.json.bytesSent < first.json.bytesSent / 10, `${second.json.bytesSent} of ${first.json.bytesSent}`);
    const back = tmp.path('push-back');
    const pulled = ttj(['pull', back, U, '--json']);
    assert.equal(pulled.status, 0, pulled.stdout);
    const events = async (loc: string) => {
      const j = await Journal.open(loc);
      try {
        assert.equal((await verify(j, { deep: true })).ok, true, loc);
        const out: string[] = [];
        for await (const b of j.storedEvents(0)) out.push(...b.map((e) => sha(e.bytes)));
        return out;
      } finally {
        await j.close();
      }
    };
    const src = await events(J);
    assert.deepEqual(await events(U), src);
    assert.deepEqual(await events(back), src);
    assert.equal(ttj(['fold', back, '--at', 'head', '--out', tmp.path('pb-fold')]).status, 0);
    assert.equal(sha(readFileSync(tmp.path('pb-fold', 'memory.raw'))), sha(mem));
  });

  it('ttj nbd: every write qemu-io saw acknowledged is in the journal, even when ttj nbd is killed (SIGKILL) right after', async () => {
    const U = pg().url('nbd');
    const img = tmp.path('disk.img');
    writeFileSync(img, Buffer.alloc(8 << 20));
    assert.equal(ttj(['append', U, '--disk', `d0=${img}`]).status, 0);
    const sock = tmp.path('nbd.sock');
    const server = startVictim(process.execPath, [ttjBin, 'nbd', U, '--disk', 'd0', '--socket', sock]);
    await waitFor(() => existsSync(sock), 30000, 'ttj nbd to listen');
    const REGION = 64 * 1024;
    const cmds = Array.from({ length: 64 }, (_, i) => ['-c', `write -P ${1 + i} ${i * REGION} ${REGION}`]).flat();
    const client = run('qemu-io', ['-f', 'raw', ...cmds, `nbd+unix:///d0?socket=${sock}`], 120_000);
    await sleep(400);
    await killHard(server);
    const out = (await client).stdout;
    const acked = [...out.matchAll(/wrote \d+\/\d+ bytes at offset (\d+)/g)].map((m) => Number(m[1]) / REGION);
    assert.ok(acked.length > 0, `some writes were acknowledged: ${out}`);
    const j = await Journal.open(U);
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
      await fold(j, { at: 'head', out: tmp.path('nbd-fold') });
    } finally {
      await j.close();
    }
    const disk = readFileSync(tmp.path('nbd-fold', 'disks', 'd0.raw'));
    for (const i of acked) assert.ok(disk.subarray(i * REGION, (i + 1) * REGION).equals(Buffer.alloc(REGION, 1 + i)), `acknowledged write ${i} is in the journal`);
  });

  it('ttj record into PostgreSQL, and the guest resumes from a recorded frame', async () => {
    const U = pg().url('vm');
    const image = ensureBootSectorGuest();
    const r = await record(U, {
      memorySize: 32 << 20,
      disks: [{ name: 'boot', path: image }],
      intervalMs: 300,
      fps: 3,
      durationMs: 90000,
      ...untilCounted(6, 12),
    });
    assert.equal(r.stoppedBy, 'signal');
    const j = await Journal.open(U);
    let frame: number;
    let expected: number;
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
      const head = await j.head();
      frame = head.frame - 2;
      const m = await fold(j, { at: `frame:${frame}`, out: tmp.path('vm-fold') });
      const mem = readFileSync(tmp.path('vm-fold', 'memory.raw'));
      assert.equal(mem.readUInt32LE(MAGIC_ADDR), COUNTER_MAGIC, `the guest runs at frame ${frame} (epoch ${m.epoch})`);
      expected = mem.readUInt32LE(COUNTER_ADDR);
    } finally {
      await j.close();
    }
    const res = await restore(U, { at: `frame:${frame}`, paused: true, detach: true, qmpPath: tmp.path('qmp.sock') });
    const qmp = await QmpClient.connect(res.qmp);
    try {
      const read = async () => parseInt(/0x([0-9a-f]+)\s*$/i.exec(await qmp.hmp(`xp /1wx 0x${COUNTER_ADDR.toString(16)}`))![1]!, 16);
      assert.equal(await read(), expected, 'the restored VM holds the counter of that frame');
      await qmp.execute('cont');
      await waitFor(async () => (await read()) >= expected + 2, 60000, 'the restored guest to count on');
      await qmp.execute('quit').catch(() => undefined);
    } finally {
      qmp.close();
      try {
        process.kill(res.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
});
