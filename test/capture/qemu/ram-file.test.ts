import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RamFile } from '../../../src/capture/qemu/ram-snapshot.js';
import { appendImages } from '../../../src/journal/append-images.js';
import { fold } from '../../../src/journal/fold.js';
import { Journal } from '../../../src/journal/journal.js';
import { JournalWriter } from '../../../src/journal/writer.js';
import { ErrorCodes } from '../../../src/errors.js';
import { prng, randomBytes } from '../../helpers/seeded-random.js';
import { useShmTmp } from '../../helpers/tmp.js';

const PS = 4096;
const PAGES = 2048;

/** A RAM file changed between captures the ways a guest changes its RAM. */
class FakeGuestRam {
  readonly bytes = Buffer.alloc(PAGES * PS);
  private readonly rnd = prng(7);
  private readonly history: Buffer[] = [];
  constructor(readonly path: string) {
    const fd = openSync(path, 'w');
    ftruncateSync(fd, PAGES * PS);
    closeSync(fd);
  }
  write(pfn: number, page: Buffer): void {
    const fd = openSync(this.path, 'r+');
    try {
      writeSync(fd, page, 0, PS, pfn * PS);
    } finally {
      closeSync(fd);
    }
    page.copy(this.bytes, pfn * PS);
  }
  /** Step `e`: new random pages, pages zeroed, a page back to what it held two steps ago, a page changed and changed back, a page copied from another. */
  step(e: number): void {
    const pick = () => Math.floor(this.rnd() * PAGES);
    this.history.push(Buffer.from(this.bytes));
    for (let i = 0; i < 40; i++) this.write(pick(), randomBytes(PS, this.rnd));
    for (let i = 0; i < 5; i++) this.write(pick(), Buffer.alloc(PS));
    if (this.history.length >= 2) {
      const p = pick();
      this.write(p, Buffer.from(this.history[this.history.length - 2]!.subarray(p * PS, (p + 1) * PS)));
    }
    const q = pick();
    const old = Buffer.from(this.bytes.subarray(q * PS, (q + 1) * PS));
    this.write(q, randomBytes(PS, this.rnd));
    this.write(q, old);
    const [a, b] = [pick(), pick()];
    this.write(b, Buffer.from(this.bytes.subarray(a * PS, (a + 1) * PS)));
    // One byte of page 0 (a counter).
    const p0 = Buffer.from(this.bytes.subarray(0, PS));
    p0.writeUInt32LE(e + 1, 64);
    this.write(0, p0);
  }
}

function nonZeroPages(b: Buffer): number {
  let n = 0;
  for (let p = 0; p < PAGES; p++) if (!b.subarray(p * PS, (p + 1) * PS).equals(Buffer.alloc(PS))) n++;
  return n;
}

describe('RamFile: captures of a RAM file appended as changed pages fold back to the exact RAM', function () {
  this.timeout(120000);
  const tmp = useShmTmp();

  it('every epoch folds to the bytes the file held at its capture, also in a second session with no fingerprints yet', async () => {
    const J = tmp.path('j.ttj');
    const ram = new FakeGuestRam(tmp.path('ram'));
    const held: Buffer[] = [];
    for (const session of ['first', 'second']) {
      const w = await JournalWriter.openWriter(J, { create: true });
      const file = new RamFile(ram.path, PAGES * PS, w.pageSize);
      try {
        for (let e = 0; e < 6; e++) {
          ram.step(held.length);
          const c = await file.capture();
          file.accept(c);
          held.push(Buffer.from(ram.bytes));
          const r = await appendImages(w, { memoryPages: c });
          assert.equal(r.epoch, held.length - 1, `${session} session`);
          if (e > 0) assert.ok(c.pfns.length + c.zeroPfns.length < 100, `only changed pages are read (${c.pfns.length})`);
          else assert.equal(c.pfns.length, nonZeroPages(ram.bytes), 'the first capture of a session reads every non-zero page');
        }
      } finally {
        await file.close();
        await w.close();
      }
    }
    const j = await Journal.open(J);
    try {
      for (const [e, want] of held.entries()) {
        const out = tmp.path(`f${e}`);
        await fold(j, { at: `epoch:${e}`, out });
        assert.ok(readFileSync(join(out, 'memory.raw')).equals(want), `epoch ${e} folds to the RAM of its capture`);
      }
    } finally {
      await j.close();
    }
  });

  it('a RAM file shorter than the guest RAM is QEMU_FAILED; changed pages that do not fit their memory are BAD_ARGUMENT, the journal unchanged', async () => {
    const ram = new FakeGuestRam(tmp.path('short'));
    for (const file of [new RamFile(ram.path, 2 * PAGES * PS, PS), new RamFile(tmp.path('missing'), PAGES * PS, PS)]) {
      await assert.rejects(file.capture(), (e: Error & { code?: string }) => e.code === ErrorCodes.QEMU_FAILED);
      await file.close();
    }
    const w = await JournalWriter.openWriter(tmp.path('k.ttj'), { create: true });
    try {
      const bad = { size: PAGES * PS, pfns: Uint32Array.from([5, 3]), pages: Buffer.alloc(2 * PS), zeroPfns: new Uint32Array(0) };
      await assert.rejects(appendImages(w, { memoryPages: bad }), (e: Error & { code?: string }) => e.code === ErrorCodes.BAD_ARGUMENT);
      await assert.rejects(appendImages(w, { memoryPages: { ...bad, pfns: Uint32Array.from([PAGES]) } }), (e: Error & { code?: string }) => e.code === ErrorCodes.BAD_ARGUMENT);
      assert.equal(w.lastCommittedEpoch, -1);
    } finally {
      await w.close();
    }
  });
});
