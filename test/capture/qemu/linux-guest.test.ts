import assert from 'node:assert/strict';
import { copyFileSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { startVm, type Vm } from '../../../src/capture/qemu/vm.js';
import { restoreVm } from '../../../src/capture/qemu/restore-vm.js';
import { LINUX_APPEND, ensureLinuxGuest } from '../../../journal-tools/guests/guests.js';
import { decodePng } from '../../helpers/decode-png.js';
import { useShmTmp } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait-for.js';

const MiB = 1 << 20;

/** Collects a console stream; `lastTick()` is the newest "tick N" seen. */
function watchConsole(s: Readable): { text: () => string; lastTick: () => number } {
  let text = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (text += d));
  return {
    text: () => text,
    lastTick: () => {
      const all = [...text.matchAll(/^tick (\d+)\r?$/gm)];
      return all.length ? Number(all[all.length - 1]![1]) : 0;
    },
  };
}

describe('QEMU: the Linux guest (Debian cloud kernel + busybox initramfs) @slow', function () {
  this.timeout(180000);
  const tmp = useShmTmp();
  const vms: Vm[] = [];
  let guest: { kernel: string; initrd: string };
  before(async function () {
    this.timeout(300000); // the first build downloads the kernel package
    guest = await ensureLinuxGuest();
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((vm) => vm.kill()));
  });

  it('boots to its workload on ttyS0 with a virtio disk, and resumes from saved device state at the same tick', async () => {
    const disk = tmp.path('disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 4 * MiB);
    const config = { memorySize: 128 * MiB, kernel: guest.kernel, initrd: guest.initrd, append: LINUX_APPEND, disks: [{ name: 'data', interface: 'virtio' as const }] };
    const t0 = Date.now();
    const vm = await startVm({ config, ramPath: tmp.path('ram'), disks: { data: { file: disk } }, consoleStream: true, consolePath: tmp.path('console.log') });
    vms.push(vm);
    const con = watchConsole(vm.console!);
    await waitFor(() => con.lastTick() >= 8, 80000, `ticks on the console (got: ${con.text().slice(-300)})`);
    const bootMs = Date.now() - t0;
    assert.match(con.text(), /ttj linux guest up at [\d.]+s, disk \/dev\/vda/);
    assert.match(con.text(), /^second 1 uptime/m);

    await vm.pause();
    const tick = con.lastTick();
    const device = await vm.saveDeviceState();
    decodePng(await vm.screendump());
    copyFileSync(vm.ramPath, tmp.path('saved.ram'));
    await vm.quit();
    assert.ok(readFileSync(disk).includes('ttj tick 5'), 'the guest wrote its disk');
    assert.match(readFileSync(tmp.path('console.log'), 'utf8'), /tick 8/, 'the console is also logged to the file');

    const vm2 = await restoreVm({ config: vm.config, ramPath: tmp.path('ram2'), ramFrom: tmp.path('saved.ram'), deviceState: device, disks: { data: { file: disk } }, consoleStream: true });
    vms.push(vm2);
    const con2 = watchConsole(vm2.console!);
    await waitFor(() => con2.lastTick() >= tick + 3, 60000, `ticks after restore (got: ${con2.text().slice(-300)})`);
    const first = Number(/^tick (\d+)/m.exec(con2.text())![1]);
    assert.ok(first === tick + 1 || first === tick, `the restored guest counts on from tick ${tick}: first ${first}`);
    assert.doesNotMatch(con2.text(), /guest up/, 'no reboot');
    console.log(`      (Linux guest: ${vm.config.accel}, first ${8} ticks after ${bootMs} ms from start; device state ${device.length} bytes)`);
  });
});
