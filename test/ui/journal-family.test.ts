import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { ErrorCodes } from '../../src/errors.js';
import { forkJournal } from '../../src/journal/fork.js';
import { discoverFamily, forkLocation } from '../../src/ui/journal-family.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { smallJournal } from '../helpers/small-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

/** Forks `parent` at `at` into `dir` (no VM: the fork's first epoch only). */
async function fork(parent: string, at: string, dir: string): Promise<string> {
  await withJournal(parent, async (j) => (await forkJournal(j, at, dir)).writer.close());
  return withJournal(dir, async (j) => j.header.journalId);
}

const idOf = (dir: string) => withJournal(dir, async (j) => j.header.journalId);

describe('ttj ui: the family of a journal (its ancestors and forks)', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let server: UiServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** root (3 epochs) with forks a (at epoch:1) and c (epoch:2) beside it, b a fork of a, u unrelated beside them, x a fork of root elsewhere. */
  async function family() {
    const root = tmp.path('root.ttj');
    await smallJournal(root, 3);
    const ids = { root: await idOf(root), a: '', b: '', c: '', u: '', x: '' };
    ids.a = await fork(root, 'epoch:1', tmp.path('root-fork-1.ttj'));
    ids.b = await fork(tmp.path('root-fork-1.ttj'), 'epoch:0', tmp.path('b.ttj'));
    ids.c = await fork(root, 'epoch:2', tmp.path('c.ttj'));
    await smallJournal(tmp.path('u.ttj'), 2);
    ids.u = await idOf(tmp.path('u.ttj'));
    mkdirSync(tmp.path('elsewhere'));
    ids.x = await fork(root, 'epoch:0', tmp.path('elsewhere', 'x.ttj'));
    return ids;
  }

  it('finds the ancestors through Fork events and the forks beside the members, not unrelated journals', async () => {
    const ids = await family();
    const fromB = await discoverFamily(tmp.path('b.ttj'));
    assert.equal(fromB[0]!.id, ids.b, 'the started journal first');
    assert.deepEqual(new Set(fromB.map((m) => m.id)), new Set([ids.root, ids.a, ids.b, ids.c]));
    const a = fromB.find((m) => m.id === ids.a)!;
    assert.deepEqual(
      { parentId: a.fork?.parentId, point: a.fork?.point, parentEpoch: a.fork?.parentEpoch, parent: a.fork?.parent },
      { parentId: ids.root, point: 'epoch:1', parentEpoch: 1, parent: tmp.path('root.ttj') },
    );
    assert.equal(fromB.find((m) => m.id === ids.root)!.fork, undefined);
    // From the root: the same (x is in another directory, so not found from here).
    assert.deepEqual(new Set((await discoverFamily(tmp.path('root.ttj'))).map((m) => m.id)), new Set([ids.root, ids.a, ids.b, ids.c]));
    // From x: its parent, and the forks beside the parent.
    assert.deepEqual(new Set((await discoverFamily(tmp.path('elsewhere', 'x.ttj'))).map((m) => m.id)), new Set([ids.x, ids.root, ids.a, ids.b, ids.c]));
    // An unrelated journal is alone.
    assert.deepEqual(
      (await discoverFamily(tmp.path('u.ttj'))).map((m) => m.id),
      [ids.u],
    );
  });

  it('names a new fork beside its journal: NAME-fork-N.ttj with the first N free, or the name given', async () => {
    await family();
    const taken = async (p: string) => readdirSync(tmp.dir).includes(p.slice(tmp.dir.length + 1));
    assert.equal(await forkLocation(tmp.path('root.ttj'), undefined, taken), tmp.path('root-fork-2.ttj'));
    assert.equal(await forkLocation(tmp.path('b.ttj'), undefined, taken), tmp.path('b-fork-1.ttj'));
    assert.equal(await forkLocation(tmp.path('elsewhere', 'x.ttj'), 'mine.ttj', taken), tmp.path('elsewhere', 'mine.ttj'));
  });

  it('the JSON API serves the family by journal id, only its members; a fork is refused a taken or bad name', async () => {
    const ids = await family();
    server = await startUiServer(tmp.path('b.ttj'));
    const get = async (path: string, init?: RequestInit) => {
      const r = await fetch(new URL(`${path}${path.includes('?') ? '&' : '?'}token=${server!.token}`, server!.url), init);
      return { status: r.status, json: (await r.json()) as any };
    };
    const fam = await get('/api/family');
    assert.equal(fam.json.started, ids.b);
    assert.equal(fam.json.recording, null);
    assert.deepEqual(new Set(fam.json.members.map((m: { id: string }) => m.id)), new Set([ids.root, ids.a, ids.b, ids.c]));
    const started = await get('/api/timeline');
    assert.equal(started.json.id, ids.b);
    assert.equal(started.json.fork.parentId, ids.a);
    const root = await get(`/api/timeline?journal=${ids.root}`);
    assert.deepEqual([root.json.id, root.json.epochs.length, root.json.fork], [ids.root, 3, undefined]);
    // Only members: an unrelated journal beside them, or a path, is refused.
    for (const j of [ids.u, encodeURIComponent(tmp.path('u.ttj'))]) {
      const r = await get(`/api/timeline?journal=${j}`);
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, ErrorCodes.BAD_ARGUMENT);
    }
    // A fork made meanwhile (by another process or the page) joins the family.
    const d = await fork(tmp.path('root.ttj'), 'epoch:1', tmp.path('root-fork-2.ttj'));
    assert.equal((await get(`/api/timeline?journal=${d}`)).json.id, d);

    const post = (body: unknown) => get('/api/forks', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const before = readdirSync(tmp.dir).sort();
    const taken = await post({ at: 'epoch:0', journal: ids.root, name: 'c.ttj' });
    assert.deepEqual([taken.status, taken.json.error.code], [409, ErrorCodes.JOURNAL_EXISTS]);
    for (const name of ['../evil.ttj', 'a/b.ttj', '..']) {
      const bad = await post({ at: 'epoch:0', name });
      assert.deepEqual([bad.status, bad.json.error.code], [400, ErrorCodes.BAD_ARGUMENT], name);
    }
    const noPoint = await post({ name: 'new.ttj' });
    assert.deepEqual([noPoint.status, noPoint.json.error.code], [400, ErrorCodes.BAD_ARGUMENT]);
    // A journal recorded without a VM cannot be restored: the child ttj restore --fork says so, and makes no journal.
    const noVm = await post({ at: 'epoch:1', journal: ids.root });
    assert.deepEqual([noVm.status, noVm.json.error.code], [500, ErrorCodes.INCOMPATIBLE_VM]);
    assert.deepEqual(readdirSync(tmp.dir).sort(), before);
    assert.equal((await get('/api/vm')).json.vm, null);
  });
});
