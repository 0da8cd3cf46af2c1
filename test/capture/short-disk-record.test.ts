import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { record } from '../../src/capture/record.js';
import type { Vm } from '../../src/capture/qemu/vm.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { verify } from '../../src/journal/verify.js';
import { LBA_BASE, LBA_COUNT, ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { useTmp } from '../helpers/tmp.js';

const SECTOR = 512;

describe('ttj record with a disk that is not a whole number of blocks @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('imports it, QEMU sees exactly its size, the guest writes are journaled and the disk folds to exactly its size', async () => {
    const size = 3 * 1024 * 1024 + 7 * SECTOR;
    const img = Buffer.alloc(size);
    readFileSync(ensureBootSectorGuest()).copy(img);
    img.fill(0xe7, size - SECTOR); // the last sector: kept as it is
    writeFileSync(tmp.path('boot.img'), img);
    const J = tmp.path('vm.ttj');
    let blocks: Promise<{ device: string; inserted?: { image: { 'virtual-size': number } } }[]> | undefined;
    const onStart = (vm: Vm) => {
      blocks = vm.qmp.execute('query-block');
      blocks.catch(() => undefined);
    };
    await record(J, { memorySize: 32 << 20, disks: [{ name: 'boot', path: tmp.path('boot.img') }], intervalMs: 200, fps: 0, durationMs: 4000, onStart });
    const sizes = (await blocks!).flatMap((b) => (b.inserted ? [b.inserted.image['virtual-size']] : []));
    assert.deepEqual(sizes, [size], 'the size QEMU sees');
    const j = await Journal.open(J);
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
      const m = await fold(j, { at: 'head', out: tmp.path('o') });
      assert.equal(m.disks[0]!.size, size);
    } finally {
      await j.close();
    }
    const disk = readFileSync(join(tmp.path('o'), 'disks', 'boot.raw'));
    assert.equal(disk.length, size);
    assert.ok(disk.subarray(size - SECTOR).equals(Buffer.alloc(SECTOR, 0xe7)), 'the last sector');
    assert.ok(disk.subarray(0, SECTOR).equals(img.subarray(0, SECTOR)), 'the boot sector');
    // At step c the guest fills the sector at LBA_BASE + (c mod LBA_COUNT) with c: step 1's is there.
    assert.equal(disk.readUInt32LE((LBA_BASE + 1) * SECTOR) % LBA_COUNT, 1, 'a sector the guest wrote');
  });
});
