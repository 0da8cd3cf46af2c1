import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { ErrorCodes, isTtjError } from '../../../src/errors.js';
import { startVm, type Vm } from '../../../src/capture/qemu/vm.js';
import { restoreVm } from '../../../src/capture/qemu/restore-vm.js';
import { hasSerialPort } from '../../../src/capture/qemu/vm-config.js';
import { defaultAccel, kvmUsable, qemuInfo } from '../../../src/capture/qemu/qemu-info.js';
import { COUNTER_ADDR, COUNTER_MAGIC, LBA_BASE, LBA_COUNT, MAGIC_ADDR, REGION_ADDR, ensureBootSectorGuest, regionPage } from '../../../journal-tools/guests/guests.js';
import { decodePng, pngPixels } from '../../helpers/decode-png.js';
import { maxGuestSteps, readU32 } from '../../helpers/boot-sector-guest.js';
import { sleep, waitFor } from '../../helpers/wait-for.js';
import { useShmTmp } from '../../helpers/tmp.js';

const MiB = 1 << 20;

describe('QEMU: a VM with RAM in a shared file (boot-sector guest) @slow', function () {
  // Generous: waits end as soon as the guest gets there; a busy machine only makes it slower.
  this.timeout(120000);
  const tmp = useShmTmp();
  let image: string;
  const vms: Vm[] = [];
  before(async () => {
    image = await ensureBootSectorGuest();
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((vm) => vm.kill()));
  });

  /** Boots a copy of the boot-sector image (the guest writes to its disk). */
  async function boot(name: string, accel = defaultAccel(), memorySize = 32 * MiB): Promise<{ vm: Vm; ram: string; disk: string }> {
    const disk = tmp.path(`${name}.img`);
    copyFileSync(image, disk);
    const ram = tmp.path(`${name}.ram`);
    const vm = await startVm({
      config: { memorySize, accel, disks: [{ name: 'boot', interface: 'ide' }] },
      ramPath: ram,
      disks: { boot: { file: disk } },
    });
    vms.push(vm);
    await waitFor(() => readU32(ram, MAGIC_ADDR) === COUNTER_MAGIC && readU32(ram, COUNTER_ADDR) >= 3, 60000, 'the guest to count');
    return { vm, ram, disk };
  }

  it('reports the installed QEMU', () => {
    const info = qemuInfo();
    assert.match(info.version, /^\d+\.\d+\.\d+$/);
    assert.match(info.defaultMachine, /^pc-i440fx-/);
    assert.equal(typeof info.kvm, 'boolean');
    assert.ok(['kvm', 'tcg'].includes(defaultAccel()));
  });

  it('a serial port is part of the config: from a console asked for, or from the argument list of a config stored before the field', async () => {
    const withConsole = await startVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('s1.ram'), consolePath: tmp.path('s1.txt'), paused: true });
    vms.push(withConsole);
    assert.equal(withConsole.config.serial, true);
    assert.equal(hasSerialPort(withConsole.config), true);
    const without = await startVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('s2.ram'), paused: true });
    vms.push(without);
    assert.equal(without.config.serial, false);
    // Stored before `serial` existed: a -serial the launcher added (not one of the extra arguments).
    const { serial: _s, ...legacy } = withConsole.config;
    assert.equal(hasSerialPort(legacy), true);
    assert.equal(hasSerialPort({ ...legacy, args: without.config.args }), false);
    assert.equal(hasSerialPort({ ...legacy, args: [...without.config.args!, '-serial', 'null'], extraArgs: ['-serial', 'null'] }), false);
    // A port without a console writes nowhere; no port and a console asked for is refused.
    const nowhere = await startVm({ config: { memorySize: 32 * MiB, serial: true }, ramPath: tmp.path('s3.ram'), paused: true });
    vms.push(nowhere);
    assert.deepEqual(nowhere.config.args!.slice(nowhere.config.args!.indexOf('-serial'), nowhere.config.args!.indexOf('-serial') + 2), ['-serial', 'null']);
    await assert.rejects(startVm({ config: { memorySize: 32 * MiB, serial: false }, ramPath: tmp.path('s4.ram'), consolePath: tmp.path('s4.txt') }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });

  it('counts in the RAM file, freezes when paused, saves device state and a frame, and resumes from them in a new QEMU', async () => {
    const { vm, ram, disk } = await boot('a');
    assert.match(vm.config.machine, /^pc-i440fx-/, 'the alias is resolved to a versioned machine');
    assert.equal(vm.config.qemuVersion, qemuInfo().version);
    assert.equal(vm.config.memorySize, 32 * MiB);
    assert.ok(vm.config.args!.includes('-incoming') === false && vm.config.args!.some((a) => a.includes('memory-backend-file')));
    assert.equal(statSync(ram).size, 32 * MiB);

    // It runs: the counter grows.
    const c1 = readU32(ram, COUNTER_ADDR);
    await waitFor(() => readU32(ram, COUNTER_ADDR) >= c1 + 3, 60000, 'the counter to grow');

    // Paused: frozen, and QEMU reads the same value as the RAM file.
    await vm.pause();
    assert.equal(await vm.status(), 'paused');
    const saved = readU32(ram, COUNTER_ADDR);
    await sleep(300);
    assert.equal(readU32(ram, COUNTER_ADDR), saved, 'frozen while paused');
    assert.equal(await vm.readPhys32(COUNTER_ADDR), saved);
    assert.equal((await vm.readPhys(COUNTER_ADDR, 8)).readUInt32LE(4), COUNTER_MAGIC);
    // The step's pages of the 1 MiB region hold the counter (or the step before is complete, when paused mid-step).
    const pageHolds = (c: number, k: number) => readU32(ram, REGION_ADDR + regionPage(c, k) * 4096) === c && readU32(ram, REGION_ADDR + regionPage(c, k) * 4096 + 4092) === c;
    assert.ok([0, 1, 2, 3].every((k) => pageHolds(saved, k)) || [0, 1, 2, 3].every((k) => pageHolds(saved - 1, k)), 'dirtied pages hold the counter');

    const device = await vm.saveDeviceState();
    const frame = await vm.screendump();
    assert.ok(device.length > 100_000 && device.length < 4 * MiB, `device state of ${device.length} bytes`);
    assert.equal(device.toString('latin1', 0, 4), 'QEVM');
    const png = decodePng(frame);
    assert.deepEqual([png.width, png.height], [720, 400], 'a VGA text-mode screen');
    // ttj encodes the screen itself (QEMU's PPM, cheap in a pause): the pixels are QEMU's own PNG's.
    await vm.qmp.execute('screendump', { filename: tmp.path('qemu.png'), format: 'png' });
    const qemuPng = readFileSync(tmp.path('qemu.png'));
    assert.deepEqual(pngPixels(frame).rgba, pngPixels(qemuPng).rgba, "the same pixels as QEMU's PNG");
    assert.ok(frame.equals(await vm.screendump()), 'the same screen encodes to the same bytes');
    assert.equal(readU32(ram, COUNTER_ADDR), saved, 'saving the device state does not run the guest');

    // A copy of the RAM file is the memory to resume from; the guest's disk has its sector.
    const ramCopy = tmp.path('saved.ram');
    copyFileSync(ram, ramCopy);
    const exit = await vm.quit();
    assert.equal(exit.code, 0);
    const diskBytes = readFileSync(disk);
    const sector = (c: number) => diskBytes.readUInt32LE((LBA_BASE + (c % LBA_COUNT)) * 512);
    assert.ok(sector(saved) === saved || sector(saved - 1) === saved - 1, `the disk holds the step's sector (${sector(saved)} for ${saved})`);
    assert.equal(diskBytes.readUInt16LE(510), 0xaa55, 'the boot sector is intact');

    // A new QEMU from the RAM copy and the device state, paused.
    const ram2 = tmp.path('b.ram');
    const vm2 = await restoreVm({
      config: vm.config,
      ramPath: ram2,
      ramFrom: ramCopy,
      deviceState: device,
      disks: { boot: { file: disk } },
      paused: true,
    });
    vms.push(vm2);
    assert.equal(await vm2.status(), 'paused');
    assert.equal(readU32(ram2, COUNTER_ADDR), saved, 'the RAM file holds the saved counter');
    assert.equal(await vm2.readPhys32(COUNTER_ADDR), saved, 'and QEMU sees it');
    await sleep(300);
    assert.equal(readU32(ram2, COUNTER_ADDR), saved, 'and it stays paused');
    decodePng(await vm2.screendump());

    const t0 = Date.now();
    await vm2.resume();
    const after = await waitFor(
      () => {
        const c = readU32(ram2, COUNTER_ADDR);
        return c >= saved + 5 ? c : 0;
      },
      60000,
      'the restored guest to count on',
    );
    assert.ok(after <= saved + maxGuestSteps(Date.now() - t0), `runs on from ${saved}, not from boot or far ahead: ${after}`);
    await vm2.pause();
    const c2 = readU32(ram2, COUNTER_ADDR);
    assert.equal(await vm2.readPhys32(COUNTER_ADDR), c2);
  });

  it('saves device state again after a resume (postmigrate → running → paused)', async () => {
    const { vm, ram } = await boot('c');
    const sizes: number[] = [];
    let last = 0;
    for (let i = 0; i < 3; i++) {
      await vm.pause();
      const c = readU32(ram, COUNTER_ADDR);
      assert.ok(c >= last);
      last = c;
      sizes.push((await vm.saveDeviceState()).length);
      decodePng(await vm.screendump());
      await vm.resume();
      assert.equal(await vm.status(), 'running');
      await sleep(150);
    }
    assert.ok(sizes.every((s) => s > 100_000));
    await waitFor(() => readU32(ram, COUNTER_ADDR) > last, 60000, 'the guest to count on');
  });

  it('refuses to save the device state of a running VM', async () => {
    const { vm } = await boot('d');
    await assert.rejects(vm.saveDeviceState(), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });

  it('starts paused when asked, and a QMP error carries its class', async () => {
    const ram = tmp.path('p.ram');
    const vm = await startVm({ config: { memorySize: 32 * MiB }, ramPath: ram, paused: true });
    vms.push(vm);
    assert.equal(await vm.status(), 'prelaunch');
    await assert.rejects(vm.qmp.execute('no-such-command'), (e) => isTtjError(e, ErrorCodes.QMP_ERROR) && e.details.qmpClass === 'CommandNotFound');
    await assert.rejects(vm.qmp.execute('screendump', { filename: '/nonexistent/dir/x.png', format: 'png' }), (e) => isTtjError(e, ErrorCodes.QMP_ERROR) && /x\.png/.test(e.message));
    // Events: `cont` emits RESUME, as an event and through the iterator.
    const it = vm.qmp.events();
    const resumed = vm.qmp.waitEvent('RESUME', { timeoutMs: 30000 });
    await vm.resume();
    assert.equal((await resumed).event, 'RESUME');
    const first = await it.next();
    assert.equal(first.value?.event, 'RESUME');
    await it.return(undefined);
    assert.equal(await vm.status(), 'running');
  });

  it('a TCG device state resumes under KVM; a KVM one under TCG is INCOMPATIBLE_VM (kvmclock) — when /dev/kvm opens', async function () {
    if (!kvmUsable()) this.skip();
    this.timeout(120000);
    const { vm, ram, disk } = await boot('t', 'tcg');
    await vm.pause();
    const saved = readU32(ram, COUNTER_ADDR);
    const device = await vm.saveDeviceState();
    copyFileSync(ram, tmp.path('k2.ram'));
    await vm.quit();
    const t0 = Date.now();
    const vm2 = await restoreVm({ config: { ...vm.config, accel: 'kvm' }, ramPath: tmp.path('k2.ram'), deviceState: device, disks: { boot: { file: disk } } });
    vms.push(vm2);
    assert.equal(vm2.config.accel, 'kvm');
    await waitFor(() => readU32(tmp.path('k2.ram'), COUNTER_ADDR) >= saved + 3, 60000, 'the guest to count on under KVM');
    assert.ok(readU32(tmp.path('k2.ram'), COUNTER_ADDR) <= saved + maxGuestSteps(Date.now() - t0));

    // And back: the KVM guest's state has a kvmclock section TCG does not know.
    await vm2.pause();
    const kvmDevice = await vm2.saveDeviceState();
    copyFileSync(tmp.path('k2.ram'), tmp.path('k3.ram'));
    await assert.rejects(
      restoreVm({ config: { ...vm.config, accel: 'tcg' }, ramPath: tmp.path('k3.ram'), deviceState: kvmDevice, disks: { boot: { file: disk } } }),
      (e) => isTtjError(e, ErrorCodes.INCOMPATIBLE_VM) && /kvmclock/.test(e.message),
    );
  });
});

describe('QEMU: failures are named @slow', function () {
  this.timeout(30000);
  const tmp = useShmTmp();

  it('QEMU missing → QEMU_MISSING naming apt-get install qemu-system-x86 (option and TTJ_QEMU)', async () => {
    await assert.rejects(
      startVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('r'), qemu: '/nonexistent/qemu-system-x86_64' }),
      (e) => isTtjError(e, ErrorCodes.QEMU_MISSING) && /apt-get install qemu-system-x86/.test(e.message),
    );
    process.env.TTJ_QEMU = '/nonexistent/qemu-system-x86_64';
    try {
      assert.throws(
        () => qemuInfo(),
        (e) => isTtjError(e, ErrorCodes.QEMU_MISSING),
      );
      await assert.rejects(startVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('r') }), (e) => isTtjError(e, ErrorCodes.QEMU_MISSING));
    } finally {
      delete process.env.TTJ_QEMU;
    }
  });

  it('QEMU refusing its arguments → QEMU_FAILED with its stderr', async () => {
    await assert.rejects(
      startVm({ config: { memorySize: 32 * MiB, extraArgs: ['-no-such-option'] }, ramPath: tmp.path('r') }),
      (e) => isTtjError(e, ErrorCodes.QEMU_FAILED) && /no-such-option/.test(e.message) && /no-such-option/.test(String(e.details.stderr)),
    );
    await assert.rejects(startVm({ config: { memorySize: 1000 }, ramPath: tmp.path('r') }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });

  it('QEMU exiting at start → QEMU_FAILED with its stderr, every time (a missing kernel, 1 TiB of RAM; 5 runs each)', async () => {
    // QEMU may close its QMP socket before this process sees it exit; the error must still say why.
    const cases = [
      { config: { memorySize: 32 * MiB, kernel: tmp.path('no-such-vmlinuz') }, says: /no-such-vmlinuz/ },
      { config: { memorySize: 1024 * 1024 * MiB }, says: /qemu-system-x86_64: \S/ },
    ];
    for (const { config, says } of cases) {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(startVm({ config, ramPath: tmp.path(`r${i}`) }), (e) => isTtjError(e, ErrorCodes.QEMU_FAILED) && says.test(String(e.details.stderr)) && e.message.includes(String(e.details.stderr)));
      }
    }
  });

  it('QEMU dying → the exit promise has the code or signal and the tail of its stderr; QMP calls fail', async () => {
    const vm = await startVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('r') });
    vm.proc.kill('SIGTERM');
    const exit = await vm.exited;
    assert.equal(exit.code, 0, 'QEMU exits 0 on SIGTERM');
    assert.match(exit.stderrTail, /terminating on signal 15/);
    assert.equal(vm.running, false);
    await assert.rejects(vm.pause(), (e) => isTtjError(e, ErrorCodes.QEMU_FAILED));
    await vm.kill();

    const vm2 = await startVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('r2') });
    const status = vm2.status();
    vm2.proc.kill('SIGKILL');
    await assert.rejects(
      status.then(() => vm2.status()),
      (e) => isTtjError(e, ErrorCodes.QEMU_FAILED),
    );
    assert.equal((await vm2.exited).signal, 'SIGKILL');
    await vm2.kill();
  });

  it('a device state this QEMU cannot load → INCOMPATIBLE_VM; a RAM file of the wrong size → SIZE_MISMATCH', async () => {
    writeFileSync(tmp.path('ram'), Buffer.alloc(32 * MiB));
    // A migration stream header (QEVM, version 3) followed by a section QEMU does not know.
    const bogus = Buffer.concat([Buffer.from('QEVM'), Buffer.from([0, 0, 0, 3]), Buffer.from([0x04, 0, 0, 0, 1, 7]), Buffer.from('nosuch\0'), Buffer.alloc(64, 0xee)]);
    await assert.rejects(restoreVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('ram'), deviceState: bogus }), (e) => isTtjError(e, ErrorCodes.INCOMPATIBLE_VM) && /nosuch|load/i.test(e.message));
    await assert.rejects(restoreVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('ram'), deviceState: Buffer.from('garbage, not a migration stream') }), (e) => isTtjError(e, ErrorCodes.INCOMPATIBLE_VM));
    await assert.rejects(restoreVm({ config: { memorySize: 64 * MiB }, ramPath: tmp.path('ram'), deviceState: bogus }), (e) => isTtjError(e, ErrorCodes.SIZE_MISMATCH));
    await assert.rejects(restoreVm({ config: { memorySize: 32 * MiB }, ramPath: tmp.path('nope'), deviceState: bogus }), (e) => isTtjError(e, ErrorCodes.FILE_NOT_FOUND));
  });
});
