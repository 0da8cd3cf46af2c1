import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Journal } from '../../src/journal/journal.js';
import { fold } from '../../src/journal/fold.js';
import { verify } from '../../src/journal/verify.js';
import { epochImage } from '../helpers/epoch-image.js';
import { rng, sha } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';

const loop = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'append-loop.js');

/** Runs the append loop and SIGKILLs it after `ms`; returns the last epoch it reported. */
function runAndKill(journal: string, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [loop, journal], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = -1;
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/committed (\d+)/g)) last = Number(m[1]);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      if (signal !== 'SIGKILL') reject(new Error(`append loop exited ${code}: ${err}`));
      else resolve(last);
    });
  });
}

describe('crash safety (a writer killed with SIGKILL at random moments)', function () {
  this.timeout(180000);
  const tmp = useTmp();

  it('leaves a journal that verifies and folds to the last whole epoch, every time', async () => {
    const J = tmp.path('j');
    const r = rng(Number(process.env.TTJ_CRASH_SEED ?? Date.now() % 100000));
    let reported = -1;
    for (let round = 0; round < 8; round++) {
      const ms = 250 + (r() % 900);
      const last = await runAndKill(J, ms);
      reported = Math.max(reported, last);
      const j = await Journal.open(J).catch(() => undefined);
      if (!j) continue; // killed before the journal existed
      try {
        const v = await verify(j, { deep: true });
        assert.equal(v.ok, true, `round ${round} (killed after ${ms} ms): ${JSON.stringify(v.error)}`);
        const head = await j.head();
        assert.ok(head.epoch >= reported, `epoch ${reported} was reported committed but the head is ${head.epoch}`);
        if (head.epoch >= 0) {
          const out = tmp.path(`o${round}`);
          const m = await fold(j, { at: 'head', out });
          assert.equal(m.epoch, head.epoch);
          assert.equal(sha(readFileSync(join(out, 'memory.raw'))), sha(epochImage(head.epoch)), `round ${round}: head folds to epoch ${head.epoch}'s image`);
        }
      } finally {
        await j.close();
      }
    }
    assert.ok(reported >= 1, 'the loop committed something');
  });
});
