import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { record } from '../../src/capture/record.js';
import { QmpClient } from '../../src/capture/qemu/qmp-client.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import { readElfCore } from '../../src/replay/export/elf-core-reader.js';
import { ELF } from '../../src/replay/export/elf-core-writer.js';
import { exportPoint } from '../../src/replay/export/export-point.js';
import { restore } from '../../src/replay/restore.js';
import { COUNTER_MAGIC, MAGIC_ADDR, ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { untilCounted } from '../helpers/boot-sector-guest.js';
import { ffprobe, qemuImgSame, readelf, readLime } from '../helpers/export-checks.js';
import { useShmTmp } from '../helpers/tmp.js';
import { withJournal } from '../helpers/with-journal.js';

/** Offset of RIP in QEMU's CPU-state note (QEMUCPUState: version, size, then 16 general registers). */
const QEMU_NOTE_RIP = 8 + 16 * 8;

describe('export a journal recorded from QEMU (boot-sector guest) @slow', function () {
  this.timeout(180000);
  const tmp = useShmTmp();

  it("writes an ELF core with QEMU's CPU notes of the restored point, RAM ranges equal to the fold, and its disk and frames", async () => {
    const J = tmp.path('vm.ttj');
    await record(J, {
      memorySize: 32 << 20,
      disks: [{ name: 'boot', path: ensureBootSectorGuest() }],
      intervalMs: 250,
      fps: 4,
      durationMs: 90000,
      ...untilCounted(3, 5),
    });
    const l = await withJournal(J, (j) => log(j));
    const at = `epoch:${l.head.epoch - 1}`;
    const f = await withJournal(J, (j) => fold(j, { at, out: tmp.path('fold') }));
    const folded = readFileSync(tmp.path('fold', 'memory.raw'));
    assert.equal(folded.readUInt32LE(MAGIC_ADDR), COUNTER_MAGIC, 'the guest runs at the point');

    const m = await exportPoint(J, { at, out: tmp.path('out'), frames: { format: 'mp4' } });
    assert.equal(m.memory!.cpuState, 'qemu');
    assert.equal(m.stateRoot, f.stateRoot);
    const file = tmp.path('out', 'memory.elf');
    const text = readelf(file);
    assert.match(text, /Type:\s+CORE \(Core file\)/);
    assert.match(text, /Start of program headers:\s+64 \(bytes into file\)/);
    assert.match(text, /CORE\s+0x[0-9a-f]+\s+NT_PRSTATUS/);
    const core = await readElfCore(file);
    const loads = core.segments.filter((s) => s.type === ELF.PT_LOAD);
    // QEMU's RAM ranges of a 32 MiB PC: below the VGA window, and from 0xC0000 up (VRAM and BIOS ROM are not RAM).
    assert.deepEqual(
      loads.map((s) => [s.paddr, s.paddr + s.filesz]),
      m.memory!.ranges.map((r) => [r.start, r.start + r.size]),
    );
    assert.equal(loads[0]!.paddr, 0);
    assert.ok(loads.every((s) => s.paddr + s.filesz <= 32 << 20));
    const bytes = readFileSync(file);
    for (const s of loads) {
      assert.equal(s.offset % 4096, 0);
      assert.equal(s.vaddr, 0);
      assert.ok(bytes.subarray(s.offset, s.offset + s.filesz).equals(folded.subarray(s.paddr, s.paddr + s.filesz)), `PT_LOAD at 0x${s.paddr.toString(16)}`);
    }
    const cpu = core.notes.find((n) => n.name === 'QEMU')!;
    const rip = Number(cpu.desc.readBigUInt64LE(QEMU_NOTE_RIP));

    // The VM restored paused at the point has the registers of the notes.
    const res = await restore(J, { at, paused: true, detach: true, qmpPath: tmp.path('qmp.sock') });
    const qmp = await QmpClient.connect(res.qmp);
    try {
      const regs = await qmp.hmp('info registers');
      const ip = parseInt(/[RE]IP=([0-9a-f]+)/i.exec(regs)![1]!, 16);
      assert.equal(rip, ip, `RIP in the core (0x${rip.toString(16)}) is the restored VM's (0x${ip.toString(16)})`);
      await qmp.execute('quit').catch(() => undefined);
    } finally {
      qmp.close();
      try {
        process.kill(res.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }

    assert.ok(qemuImgSame(tmp.path('fold', 'disks', 'boot.raw'), 'raw', tmp.path('out', 'disks', 'boot.qcow2'), 'qcow2'));
    const video = ffprobe(tmp.path('out', 'frames.mp4'));
    assert.equal(video.frames, l.frames.length);
    assert.ok(Math.abs(video.duration - ((l.frames.at(-1)!.timeUs - l.frames[0]!.timeUs) / 1e6 + 0.001)) <= 0.002, `duration ${video.duration}`);

    // LiME: the RAM an OS sees on a PC (the legacy hole 0xA0000..0xFFFFF left out).
    await exportPoint(J, { at, out: tmp.path('lime'), memoryFormat: 'lime' });
    const lime = readLime(join(tmp.path('lime'), 'memory.lime'));
    assert.deepEqual(
      lime.map((r) => [r.start, r.end]),
      [
        [0, 0xa0000 - 1],
        [0x100000, (32 << 20) - 1],
      ],
    );
    for (const r of lime) assert.ok(r.data.equals(folded.subarray(r.start, r.end + 1)));
  });
});
