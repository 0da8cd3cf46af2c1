import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { LevelKv } from '../../src/store/level-kv.js';
import { LocalStore } from '../../src/store/local-store.js';
import { LOCK_FILE } from '../../src/store/writer-lock.js';
import { useTmp } from '../helpers/tmp.js';

describe('opening a journal index held by a process that does not hand it over', () => {
  const tmp = useTmp();

  it('a writer waits waitMs, then fails LOCKED and lets go of the writer lock; once the index is free it opens', async () => {
    const J = tmp.path('j');
    await (await LocalStore.open(J, { create: true })).close();
    // Holding LevelDB without serving it: like an older ttj, it never answers a hand-over.
    const holder = await LevelKv.open(join(J, 'index'));
    try {
      const start = Date.now();
      await assert.rejects(LocalStore.open(J, { write: true, waitMs: 300 }), (e) => isTtjError(e, ErrorCodes.LOCKED));
      assert.ok(Date.now() - start >= 300, 'waited for the index');
      assert.equal(existsSync(join(J, LOCK_FILE)), false, 'the writer lock is released');
    } finally {
      await holder.close();
    }
    const w = await LocalStore.open(J, { write: true, waitMs: 300 });
    await w.close();
  });
});
