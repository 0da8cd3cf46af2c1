import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backupPipeline } from '../../journal-tools/examples/backup-pipeline.js';
import type { JournalCommit } from '../../src/index.js';
import { dirty, memoryImage } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('the library API (docs/library.md)', function () {
  this.timeout(60000);
  const tmp = useTmp();

  it('runs the backup pipeline of docs/library.md: every epoch seen once as it lands, then verified', async () => {
    const mem = memoryImage(64, 4096, 5);
    const checkpoints = [0, 1, 2].map((i) => {
      dirty(mem, 4096, 4, i);
      writeFileSync(tmp.path(`m${i}`), mem);
      writeFileSync(tmp.path(`d${i}`), Buffer.alloc(128 * 1024, i + 1));
      return { memory: tmp.path(`m${i}`), disk: tmp.path(`d${i}`), label: `c${i}` };
    });
    const commits: JournalCommit[] = [];
    const r = await backupPipeline(tmp.path('vm.ttj'), checkpoints, (c) => commits.push(c));
    assert.equal(r.verified, true);
    assert.deepEqual(
      commits.flatMap((c) => c.epochs.map((e) => e.labels[0])),
      ['c0', 'c1', 'c2'],
    );
  });

  it('docs/library.md shows the example as it is', () => {
    const doc = readFileSync(join(root, 'docs', 'library.md'), 'utf8');
    const code = readFileSync(join(root, 'journal-tools', 'examples', 'backup-pipeline.ts'), 'utf8').replace('../../src/index.js', 'ttj');
    assert.ok(doc.includes('```ts\n' + code + '```'), 'the code block in docs/library.md differs from journal-tools/examples/backup-pipeline.ts');
  });

  it('the package entries load by name; the main entry does not pull in the test suite', () => {
    const script = `
      const main = await import('ttj');
      const out = { main: Object.keys(main).sort() };
      for (const e of ['store', 'qemu', 'nbd', 'native']) out[e] = Object.keys(await import('ttj/' + e)).sort();
      console.log(JSON.stringify(out));`;
    // A child without mocha's globals: the main entry and the building blocks must load there.
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }));
    for (const name of ['Journal', 'JournalWriter', 'appendImages', 'fold', 'verify', 'log', 'repairJournal', 'TtjError', 'ErrorCodes']) assert.ok(out.main.includes(name), name);
    assert.ok(!out.main.includes('storeComplianceSuite'));
    assert.ok(!out.main.includes('LocalStore'), 'the store is a building block (ttj/store)');
    assert.ok(out.store.includes('openStore') && out.qemu.includes('record') && out.nbd.includes('serveDisk') && out.native.includes('scanPages'));
  });

  it('ttj/testing exports the store compliance suite', async () => {
    const testing = await import('ttj/testing' as string);
    assert.equal(typeof testing.storeComplianceSuite, 'function');
  });
});
