/**
 * `ttj/qemu`: recording a live QEMU VM into a journal and restoring one from it, and
 * the QEMU parts they are made of (a VM process with its QMP connection).
 * @packageDocumentation
 */
export { record, type RecordOptions, type RecordResult } from '../capture/record.js';
export { recordVm, type RecordVmOptions, type RecordSummary } from '../capture/record-vm.js';
export { restore, type RestoreOptions, type RestoreResult } from '../replay/restore.js';
export { Vm, type StartVmOptions, type VmExit } from '../capture/qemu/vm.js';
export { WavTap } from '../capture/qemu/wav-tap.js';
export type { VmConfig, DiskSource } from '../capture/qemu/vm-config.js';
export { QmpClient, type QmpEvent } from '../capture/qemu/qmp-client.js';
export { qemuInfo, kvmUsable, defaultAccel, type QemuInfo } from '../capture/qemu/qemu-info.js';
