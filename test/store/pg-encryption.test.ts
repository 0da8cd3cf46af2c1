/**
 * Encrypted journals in PostgreSQL, against a real PostgreSQL 15 server: the store's
 * contract through the cipher, no table (nor any file of the cluster) holding what the
 * guest wrote, passwords, and push between the embedded store and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { push } from '../../src/journal/push.js';
import { verify } from '../../src/journal/verify.js';
import { storeComplianceSuite } from '../../src/store/compliance-suite.js';
import { changePassword } from '../../src/store/journal-key.js';
import { openStore } from '../../src/store/open-store.js';
import { filesContaining } from '../helpers/files-containing.js';
import { usePgCluster } from '../helpers/pg-cluster.js';
import { LABEL, LABEL_FORMS, MARKER, PW, recordSecrets } from '../helpers/secret-journal.js';
import { resolvePoint } from '../../src/journal/point.js';
import { useTmp } from '../helpers/tmp.js';

describe('encrypted journals in PostgreSQL', function () {
  this.timeout(180000);
  const cluster = usePgCluster();
  const tmp = useTmp();
  const url = (dir: string) => cluster().url(basename(dirname(dir)));

  storeComplianceSuite('PostgreSQL 15, encrypted', {
    open: (dir) => openStore(url(dir), { create: true, encrypt: true, password: PW }),
    reader: (dir) => openStore(url(dir), { password: PW }),
  });

  /** The ttj tables as pg_dump writes them (bytea as hex text). */
  function dumpTables(): string {
    const c = cluster();
    const r = spawnSync('/usr/lib/postgresql/15/bin/pg_dump', ['-h', c.dir, '-p', String(c.port), '-U', 'postgres', '--data-only', '-t', 'ttj_*', 'postgres'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  /** Every stored byte of the journal `name`: its events, blocks, blob addresses and index. */
  async function journalBytes(name: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const [table, col] of [
      ['ttj_event', 'bytes'],
      ['ttj_block', 'data'],
      ['ttj_blob', 'addr'],
      ['ttj_index', 'value'],
    ]) {
      const rows = await cluster().sql<{ b: Buffer }>(`SELECT t.${col} AS b FROM ${table} t JOIN ttj_journal j ON j.id = t.journal WHERE j.name = $1`, [name]);
      parts.push(...rows.map((r) => r.b));
    }
    assert.ok(parts.length > 0);
    return Buffer.concat(parts);
  }

  const inDump = (dump: string) => [MARKER, ...LABEL_FORMS].some((m) => dump.includes(m.toString('hex')) || dump.includes(m.toString()));

  it('no table and no file of the cluster holds what the guest wrote nor a label text; with the password it folds and verifies; a plain journal does hold it', async () => {
    const U = cluster().url('secret');
    const s = await recordSecrets(U, tmp.dir, { encrypt: true });
    await cluster().sql('CHECKPOINT');
    assert.equal(inDump(dumpTables()), false);
    assert.deepEqual(filesContaining(cluster().dataDir, [MARKER, s.randomPageHash, ...LABEL_FORMS]), []);
    const j = await Journal.open(U, { password: PW });
    try {
      assert.equal(j.encrypted, true);
      assert.equal((await verify(j, { deep: true })).ok, true);
      assert.equal((await resolvePoint(j, `label:${LABEL}`)).epoch, 0);
      const labels = [];
      for await (const l of j.labels()) labels.push(l.text);
      assert.deepEqual(labels, [LABEL]);
      await fold(j, { at: 'head', out: tmp.path('out') });
    } finally {
      await j.close();
    }
    await recordSecrets(cluster().url('plain'), tmp.dir, { encrypt: false });
    const dump = dumpTables();
    assert.equal(inDump(dump), true);
    assert.ok(dump.includes(LABEL_FORMS[1]!.toString()), 'the plain journal keeps the label text in its index keys (the scan can fail)');
  });

  it('a wrong or missing password is a clear code; key passwd rewraps the key row only', async () => {
    const U = cluster().url('passwd');
    await recordSecrets(U, tmp.dir, { encrypt: true });
    const rows = async () => (await cluster().sql<{ n: string }>("SELECT count(*) AS n FROM ttj_event e JOIN ttj_journal j ON j.id = e.journal WHERE j.name = 'passwd'"))[0]!.n;
    const before = await rows();
    await assert.rejects(Journal.open(U), (e: unknown) => isTtjError(e, ErrorCodes.PASSWORD_REQUIRED));
    await assert.rejects(Journal.open(U, { password: 'wrong' }), (e: unknown) => isTtjError(e, ErrorCodes.BAD_PASSWORD));
    await changePassword(U, PW, 'another');
    await assert.rejects(Journal.open(U, { password: PW }), (e: unknown) => isTtjError(e, ErrorCodes.BAD_PASSWORD));
    const j = await Journal.open(U, { password: 'another' });
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
    } finally {
      await j.close();
    }
    assert.equal(await rows(), before);
  });

  it('push from a directory into PostgreSQL and back keeps the data sealed, with the same key', async () => {
    const J = tmp.path('j');
    await recordSecrets(J, tmp.dir, { encrypt: true });
    const U = cluster().url('pushed');
    const src = await Journal.open(J, { password: PW });
    try {
      await push(src, U);
    } finally {
      await src.close();
    }
    assert.equal((await journalBytes('pushed')).includes(MARKER), false);
    const pushed = await Journal.open(U, { password: PW });
    try {
      assert.equal((await verify(pushed, { deep: true })).ok, true);
      await push(pushed, tmp.path('back'));
    } finally {
      await pushed.close();
    }
    assert.deepEqual(filesContaining(tmp.path('back'), [MARKER, ...LABEL_FORMS]), []);
  });
});
