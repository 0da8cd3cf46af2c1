import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from '../../src/errors.js';
import { exitCodeFor } from '../../src/cli/base-command.js';
import { memoryImage } from '../helpers/images.js';
import { ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';

describe('error codes say what happened', function () {
  this.timeout(60000);
  const tmp = useTmp();

  it('a journal path that is a file, or passes through one, is TTJ_NOT_A_DIRECTORY (exit 1), and nothing is written', () => {
    writeFileSync(tmp.path('file'), 'not a journal');
    writeFileSync(tmp.path('m.raw'), memoryImage(4, 4096, 1));
    for (const args of [
      ['log', tmp.path('file')],
      ['verify', tmp.path('file')],
      ['append', tmp.path('file'), '--memory', tmp.path('m.raw')],
      ['append', join(tmp.path('file'), 'j'), '--memory', tmp.path('m.raw')],
      ['log', join(tmp.path('file'), 'j')],
    ]) {
      const r = ttj([...args, '--json']);
      assert.equal(r.json?.error?.code, ErrorCodes.NOT_A_DIRECTORY, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.status, exitCodeFor(ErrorCodes.NOT_A_DIRECTORY));
    }
    assert.deepEqual(readdirSync(tmp.dir).sort(), ['file', 'm.raw']);
  });

  it('a really damaged index is still TTJ_CORRUPT_STORE, exit 3', () => {
    const J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), memoryImage(4, 4096, 1));
    assert.equal(ttj(['append', J, '--memory', tmp.path('m.raw'), '--json']).status, 0);
    const manifest = readdirSync(join(J, 'index')).find((n) => n.startsWith('MANIFEST-'))!;
    writeFileSync(join(J, 'index', manifest), Buffer.alloc(200, 0x5a));
    rmSync(join(J, 'index', 'LOG'), { force: true });
    const r = ttj(['log', J, '--json']);
    assert.equal(r.json?.error?.code, ErrorCodes.CORRUPT_STORE, r.stdout + r.stderr);
    assert.equal(r.status, 3);
  });

  it('exit codes: 5 for no space, 6 for permission and read-only, 3 only for damage', () => {
    assert.equal(exitCodeFor(ErrorCodes.NO_SPACE), 5);
    assert.equal(exitCodeFor(ErrorCodes.PERMISSION), 6);
    assert.equal(exitCodeFor(ErrorCodes.READ_ONLY), 6);
    assert.equal(exitCodeFor(ErrorCodes.NOT_A_DIRECTORY), 1);
  });
});
