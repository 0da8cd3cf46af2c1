import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Sha256Batcher } from '../../src/native/sha256-batcher.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

describe('Sha256Batcher (hashes of one event-loop turn in one native job)', function () {
  it('gives every caller the hashes of its own buffers, in order, whether asked in one turn or in several', async () => {
    const h = new Sha256Batcher();
    const asks = Array.from({ length: 20 }, (_, i) => Array.from({ length: i % 5 }, () => randomBytes(1 + ((i * 977) % 70_000))));
    // Half asked in one turn, the rest one per turn.
    const first = asks.slice(0, 10).map((bufs) => h.hash(bufs));
    const rest: Buffer[] = [];
    for (const bufs of asks.slice(10)) rest.push(await h.hash(bufs));
    const all = [...(await Promise.all(first)), ...rest];
    all.forEach((hashes, i) => {
      assert.equal(hashes.length, asks[i]!.length * 32);
      asks[i]!.forEach((b, j) => assert.ok(hashes.subarray(j * 32, (j + 1) * 32).equals(sha(b)), `ask ${i} buffer ${j}`));
    });
  });

  it('fails every caller of the turn when the job is refused (a detached buffer), and goes on working', async () => {
    const h = new Sha256Batcher();
    const ok = randomBytes(100);
    const gone = new Uint8Array(new ArrayBuffer(64));
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    const a = h.hash([ok]);
    const b = h.hash([gone]);
    await assert.rejects(a, TypeError);
    await assert.rejects(b, TypeError);
    assert.ok((await h.hash([ok])).equals(sha(ok)));
  });
});
