/**
 * Resuming a VM from a saved point: a RAM file with the folded memory, the device
 * state, and the config it was recorded with.
 */
import { copyFile, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { ErrorCodes, TtjError, toTtjError } from '../../errors.js';
import { startVm, type StartVmOptions, type Vm } from './vm.js';

/** Options of {@link restoreVm}: those of {@link startVm} (except `incoming`), and the saved state. */
export interface RestoreVmOptions extends Omit<StartVmOptions, 'incoming' | 'ramPath'> {
  /** The device state saved by {@link Vm.saveDeviceState}. */
  deviceState: Buffer;
  /** The guest RAM file QEMU runs on; it must hold the memory to resume from (or see `ramFrom`). */
  ramPath: string;
  /**
   * A file with the memory to resume from, copied to `ramPath` first (a reflink when
   * the file system can). Omit it when `ramPath` already holds the memory.
   */
  ramFrom?: string;
  /** Stay paused after loading (default: run on, QMP `cont`). */
  paused?: boolean;
}

/**
 * Prepares the RAM file, starts QEMU with `-incoming defer`, loads the device state
 * (x-ignore-shared: the RAM is not in the stream) and runs the VM on unless `paused`.
 * @throws TtjError SIZE_MISMATCH (the RAM file is not the config's RAM size),
 * FILE_NOT_FOUND, QEMU_MISSING, QEMU_FAILED, INCOMPATIBLE_VM (this QEMU cannot load the device state).
 */
export async function restoreVm(opts: RestoreVmOptions): Promise<Vm> {
  const { deviceState, ramFrom, paused, ...start } = opts;
  try {
    if (ramFrom) await copyFile(ramFrom, opts.ramPath, constants.COPYFILE_FICLONE);
  } catch (e) {
    throw toTtjError(e, { path: ramFrom, what: 'copying the RAM file' });
  }
  let size: number;
  try {
    size = (await stat(opts.ramPath)).size;
  } catch (e) {
    throw toTtjError(e, { path: opts.ramPath, what: 'the RAM file' });
  }
  if (size !== opts.config.memorySize) {
    throw new TtjError(ErrorCodes.SIZE_MISMATCH, `the RAM file ${opts.ramPath} has ${size} bytes; the VM has ${opts.config.memorySize}`, {
      path: opts.ramPath,
      expected: opts.config.memorySize,
      actual: size,
    });
  }
  const vm = await startVm({ ...start, ramPath: opts.ramPath, incoming: true });
  try {
    await vm.loadDeviceState(deviceState);
    if (!paused) await vm.resume();
    return vm;
  } catch (e) {
    await vm.kill();
    throw e;
  }
}
