import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { startVm, type Vm } from '../../../src/capture/qemu/vm.js';
import { defaultAccel } from '../../../src/capture/qemu/qemu-info.js';
import { COUNTER_ADDR, COUNTER_MAGIC, MAGIC_ADDR, ensureBootSectorGuest } from '../../../journal-tools/guests/guests.js';
import { readU32 } from '../../helpers/boot-sector-guest.js';
import { sleep, waitFor } from '../../helpers/wait-for.js';
import { useShmTmp } from '../../helpers/tmp.js';

const MiB = 1 << 20;

/** The pause a checkpoint costs the guest: stop → device state → screendump → cont. */
async function cycle(vm: Vm): Promise<{ ms: number; device: number; frame: number }> {
  const t0 = performance.now();
  await vm.pause();
  const device = await vm.saveDeviceState();
  const frame = await vm.screendump();
  await vm.resume();
  return { ms: performance.now() - t0, device: device.length, frame: frame.length };
}

describe('QEMU: the pause of a checkpoint cycle (stop, device state, screendump, cont) @slow', function () {
  this.timeout(120000);
  const tmp = useShmTmp();

  for (const mib of [64, 256]) {
    it(`${mib} MiB boot-sector guest`, async () => {
      const disk = tmp.path('boot.img');
      copyFileSync(await ensureBootSectorGuest(), disk);
      const vm = await startVm({ config: { memorySize: mib * MiB, accel: defaultAccel(), disks: [{ name: 'boot', interface: 'ide' }] }, ramPath: tmp.path('ram'), disks: { boot: { file: disk } } });
      try {
        await waitFor(() => readU32(vm.ramPath, MAGIC_ADDR) === COUNTER_MAGIC && readU32(vm.ramPath, COUNTER_ADDR) >= 2, 60000, 'the guest to count');
        const runs: { ms: number; device: number; frame: number }[] = [];
        for (let i = 0; i < 12; i++) {
          runs.push(await cycle(vm));
          await sleep(60);
        }
        const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
        const p50 = ms[Math.floor(ms.length / 2)]!;
        console.log(`      (${mib} MiB ${vm.config.accel}: pause p50 ${p50.toFixed(1)} ms, max ${ms[ms.length - 1]!.toFixed(1)} ms; device state ${runs[0]!.device} bytes; frame ${runs[0]!.frame} bytes)`);
        // The figures are printed, not asserted (a busy machine makes them anything); every
        // cycle must have saved a device state and a frame, and left the VM running.
        assert.ok(
          runs.every((r) => r.device > 100_000 && r.frame > 0),
          JSON.stringify(runs),
        );
        assert.equal(await vm.status(), 'running');
      } finally {
        await vm.kill();
      }
    });
  }
});
