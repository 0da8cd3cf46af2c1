/**
 * An online prune: while a writer holds the journal (as `ttj record` does) and keeps
 * appending epochs that bring old page contents back, `ttj prune` in another process
 * asks that writer to prune; a reader in a third process folds a kept epoch again and
 * again meanwhile (its blobs move as pack files are compacted). Every fold succeeds with
 * the same bytes, the journal verifies after, and every appended epoch folds as appended.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { splitAddrs } from '../../src/journal/chunks.js';
import { buf, decodeEvent } from '../../src/journal/codec.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { sha256 } from '../../src/util/hash.js';
import { sha } from '../helpers/images.js';
import { buildPruningJournal, dirBytes, PPS } from '../helpers/pruning-journal.js';
import { ttjAsync } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

describe('prune while a writer appends and a reader folds, in other processes', function () {
  this.timeout(600000);
  const tmp = useTmp();

  it('ttj prune is run by the live writer between its appends; the reader always folds the kept epoch to the same bytes; verify passes; the journal shrinks', async () => {
    const J = tmp.path('j');
    await buildPruningJournal(J, tmp.dir, { epochs: 30, labels: { 2: 'kept' } });
    const ref = tmp.path('ref');
    await withJournal(J, (j) => fold(j, { at: 'epoch:2', out: ref }));
    const refMemory = sha(readFileSync(join(ref, 'memory.raw')));
    const bytesBefore = dirBytes(J);
    const w = await JournalWriter.openWriter(J, { create: false, command: 'test writer' });
    const appended = new Map<number, Buffer>();
    const old = await w.blobs(await pagesOf(w, 1));
    let stop = false;
    let folds = 0;
    try {
      const writer = (async () => {
        for (let k = 0; !stop; k++) {
          const data = old[k % old.length]!;
          const e = w.nextEpochNumber;
          await w.commit([{ epochBegin: { epoch: e } }, { pages: { pfns: [450], addrs: sha256(data) } }, { epochCommit: { epoch: e } }], [{ addr: sha256(data), data }]);
          appended.set(e, data);
        }
      })();
      const reader = (async () => {
        while (!stop) {
          const out = tmp.path(`r${folds % 2}`);
          const r = await ttjAsync('fold', J, '--at', 'epoch:2', '--out', out, '--json');
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.equal(sha(readFileSync(join(out, 'memory.raw'))), refMemory);
          folds++;
        }
      })();
      const p = await ttjAsync('prune', J, '--keep-last', '3', '--json');
      stop = true;
      await Promise.all([writer, reader]);
      assert.equal(p.code, 0, p.stdout + p.stderr);
      assert.equal(p.json.ranBy.pid, process.pid);
      assert.ok(p.json.dropped.epochs >= 26, JSON.stringify(p.json.dropped));
      assert.ok(p.json.collected.removed.blobs > 0);
    } finally {
      stop = true;
      await w.close();
    }
    assert.ok(folds >= 1);
    const v = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(v.ok, true, JSON.stringify(v.error));
    for (const [e, data] of appended) {
      const out = tmp.path(`e${e}`);
      const r = await withJournal(J, (j): Promise<unknown> => fold(j, { at: `epoch:${e}`, out }).catch((err: unknown) => (isTtjError(err) ? err.code : err)));
      if (r === ErrorCodes.PRUNED) continue;
      assert.deepEqual(readFileSync(join(out, 'memory.raw')).subarray(450 * PPS, 451 * PPS), data, `epoch ${e}`);
    }
    assert.ok(dirBytes(J) < bytesBefore, `${bytesBefore} -> ${dirBytes(J)}`);
  });
});

/** The first few page addresses epoch `e`'s page events name. */
async function pagesOf(w: JournalWriter, e: number): Promise<Buffer[]> {
  const ep = (await w.epoch(e))!;
  for await (const batch of w.storedEvents(ep.beginSeq, ep.seq + 1)) {
    for (const { seq, bytes } of batch) {
      const ev = decodeEvent(bytes, seq);
      if (ev.body === 'pages') return splitAddrs(buf(ev.pages!.addrs)).slice(0, 8);
    }
  }
  return [];
}
