/**
 * `ttj record` of the boot-sector guest at several guest sizes: VM pause per epoch
 * (p50, p99), frames sustained, epochs lost, bytes stored per epoch, against the
 * size of QEMU's own full save (`migrate` of device state and RAM to a file).
 */
import { join } from 'node:path';
import { Vm } from '../../src/capture/qemu/vm.js';
import { kvmUsable } from '../../src/capture/qemu/qemu-info.js';
import { ensureBootSectorGuest } from '../guests/index.js';
import { ramDirectory } from '../../src/capture/record.js';
import { rmSync } from 'node:fs';
import { ttjStep } from './ttj.js';

export interface PauseFigures {
  sizeMiB: number;
  accel: string;
  epochs: number;
  frames: number;
  fpsSustained: number;
  missedEpochTicks: number;
  pauseP50Ms: number;
  pauseP99Ms: number;
  bytesPerEpoch: number;
  qemuFullSaveBytes: number;
  ratioToFullSave: number;
  /** Peak RSS (VmHWM) of the process running `ttj record`, which reads the guest's RAM file (QEMU's own memory not included). */
  peakRssKb?: number;
}

/** QEMU's own checkpoint size: a full migration (device state + RAM) of the running guest. */
async function qemuFullSave(sizeMiB: number, image: string, dir: string): Promise<number> {
  const work = ramDirectory('ttj-bench-save-');
  const vm = await Vm.start({
    config: { qemuVersion: '', machine: 'pc', accel: kvmUsable() ? 'kvm' : 'tcg', memorySize: sizeMiB << 20, disks: [{ name: 'boot', interface: 'ide' }], extraArgs: [] },
    ramPath: join(work, 'ram'),
    disks: { boot: { file: image } },
  });
  try {
    await vm.resume();
    await new Promise((r) => setTimeout(r, 4000));
    await vm.pause();
    await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: false }] });
    return (await vm.saveDeviceState()).length;
  } finally {
    await vm.kill();
    rmSync(work, { recursive: true, force: true });
    void dir;
  }
}

export async function recordPause(dir: string, sizes: number[], seconds = 6): Promise<PauseFigures[]> {
  const image = ensureBootSectorGuest();
  const out: PauseFigures[] = [];
  for (const sizeMiB of sizes) {
    const J = join(dir, `rec-${sizeMiB}.ttj`);
    const r = recordStep(J, sizeMiB, seconds, image);
    const full = await qemuFullSave(sizeMiB, image, dir);
    // Epoch 0 stores the whole first state; the steady cost is the later epochs'.
    const bytesPerEpoch = r.epochs > 1 ? r.bytesStored / r.epochs : r.bytesStored;
    out.push({
      sizeMiB,
      accel: r.accel,
      epochs: r.epochs,
      frames: r.frames,
      fpsSustained: r.frames / seconds,
      missedEpochTicks: r.missedEpochTicks,
      pauseP50Ms: r.pauseP50Ms,
      pauseP99Ms: r.pauseP99Ms,
      bytesPerEpoch,
      qemuFullSaveBytes: full,
      ratioToFullSave: bytesPerEpoch / full,
      peakRssKb: r.maxRssKb,
    });
    rmSync(J, { recursive: true, force: true });
  }
  return out;
}

/** What a `ttj record` step reports (ttj-step.ts). */
export interface RecordStep {
  accel: string;
  epochs: number;
  frames: number;
  missedEpochTicks: number;
  pauseP50Ms: number;
  pauseP99Ms: number;
  bytesStored: number;
  maxRssKb: number;
}

/** `ttj record` of the boot-sector guest `image` into `journal`, in a child process of its own (so that its peak RSS is its own). */
export function recordStep(journal: string, sizeMiB: number, seconds: number, image: string): RecordStep {
  return ttjStep('record', journal, String(sizeMiB), String(seconds), image) as unknown as RecordStep;
}
