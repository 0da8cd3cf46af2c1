import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Journal } from '../../src/journal/journal.js';
import { memoryImage } from '../helpers/images.js';
import { ttjAsync } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';

// LevelDB's lock on its index is a POSIX (fcntl) lock, owned by the process: a second
// open of the same index in one process used to close a descriptor of LOCK and with it
// drop the first open's lock, so that another process's writer opened the index beside
// the reader (two processes on one LevelDB), and the reader never saw its appends.
describe('a journal opened twice in one process', function () {
  this.timeout(120000);
  const tmp = useTmp();

  async function append(J: string, fill: number): Promise<number> {
    writeFileSync(tmp.path('m.raw'), memoryImage(16, 4096, fill));
    const r = await ttjAsync('append', J, '--memory', tmp.path('m.raw'), '--json');
    assert.equal(r.code, 0, r.stderr);
    return r.json.lastSeq as number;
  }

  it('keeps the index lock of the first open when the second closes: a writer in another process is handed the index and the first reader sees its appends', async () => {
    const J = tmp.path('j.ttj');
    await append(J, 1);
    const a = await Journal.open(J);
    try {
      const before = (await a.head())!.seq;
      const b = await Journal.open(J);
      assert.equal((await b.head())!.seq, before);
      await b.close();
      const last = await append(J, 2);
      assert.ok(last > before);
      assert.equal((await a.head())!.seq, last, 'the first reader reads the index the writer appended to');
    } finally {
      await a.close();
    }
  });
});
