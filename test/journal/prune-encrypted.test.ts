import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { fileHashes } from '../helpers/file-hashes.js';
import { appendPruningEpochs, dirBytes } from '../helpers/pruning-journal.js';
import { ttj } from '../helpers/run-ttj.js';
import { PW } from '../helpers/secret-journal.js';
import { useTmp } from '../helpers/tmp.js';

/** Each epoch of the encrypted journal at `dir` folded and hashed, or the error code. */
async function foldEpochs(dir: string, work: string, epochs: number): Promise<(Record<string, string> | string)[]> {
  const j = await Journal.open(dir, { password: PW });
  try {
    const out: (Record<string, string> | string)[] = [];
    for (let e = 0; e < epochs; e++) {
      const o = join(work, 'fold');
      rmSync(o, { recursive: true, force: true });
      try {
        await fold(j, { at: `epoch:${e}`, out: o });
        out.push(fileHashes(o));
      } catch (err) {
        if (!isTtjError(err)) throw err;
        out.push(err.code);
      }
    }
    return out;
  } finally {
    await j.close();
  }
}

describe('prune of an encrypted journal', function () {
  this.timeout(300000);
  const tmp = useTmp();

  it('ttj prune with the password: kept epochs fold as before, dropped ones are TTJ_PRUNED, verify --deep passes, the sealed packs shrink; without the password nothing changes', async () => {
    const J = tmp.path('j');
    const EPOCHS = 16;
    const w = await JournalWriter.openWriter(J, { create: true, encrypt: true, password: PW });
    try {
      await appendPruningEpochs(w, tmp.dir, 0, EPOCHS, { epochs: EPOCHS });
    } finally {
      await w.close();
    }
    const before = await foldEpochs(J, tmp.dir, EPOCHS);
    const bytesBefore = dirBytes(J);

    const refused = ttj(['prune', J, '--keep-last', '4', '--json']);
    assert.equal(refused.json.error.code, ErrorCodes.PASSWORD_REQUIRED);
    assert.equal(dirBytes(J), bytesBefore, 'nothing written without the password');

    const r = ttj(['prune', J, '--keep-last', '4', '--json'], { env: { ...process.env, TTJ_PASSWORD: PW } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.json.collected.removed.blobs > 0, JSON.stringify(r.json.collected));
    const after = await foldEpochs(J, tmp.dir, EPOCHS);
    for (let e = 0; e < EPOCHS; e++) {
      if (e < EPOCHS - 4) assert.equal(after[e], ErrorCodes.PRUNED, `epoch ${e}`);
      else assert.deepEqual(after[e], before[e], `epoch ${e} folds as before`);
    }
    assert.ok(dirBytes(J) < bytesBefore, `${dirBytes(J)} < ${bytesBefore} bytes on disk`);
    const j = await Journal.open(J, { password: PW });
    try {
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      assert.equal(v.pruned?.length, 1);
    } finally {
      await j.close();
    }
  });
});
