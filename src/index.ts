/**
 * ttj — a time-travel journal for virtual machines. The curated public API.
 * @packageDocumentation
 */
export { TtjError, ErrorCodes, isTtjError, type ErrorCode, type TtjErrorDetails } from './errors.js';

export { Journal, DEFAULT_PAGE_SIZE, TTJ_VERSION, type JournalHead, type JournalHeader, type OpenJournalOptions } from './journal/journal.js';
export { JournalWriter, KEYFRAME_MAX_EPOCHS, type CommitResult } from './journal/writer.js';
export { initJournal, type InitResult } from './journal/init-journal.js';
export { appendImages, diskBlockSizeFor, DEFAULT_DISK_BLOCK_SIZE, type ImageEpochInput, type AppendImagesResult } from './journal/append-images.js';
export { appendEventStream, parseEventStream, encodeEventStream } from './journal/append-events.js';
export { fold, foldState, type FoldOptions, type FoldManifest } from './journal/fold.js';
export { verify, type VerifyOptions, type VerifyReport } from './journal/verify.js';
export { log, type LogOptions, type LogResult } from './journal/log.js';
export { parsePoint, resolvePoint, type Point, type ResolvedPoint } from './journal/point.js';
export { VmState, MAX_DISK_BLOCK_SIZE, type DeviceRef, type DiskState } from './journal/vm-state.js';
export { PageTable } from './journal/page-table.js';
export type { EpochEntry, FrameEntry } from './journal/index-keys.js';

export type { JournalStore, StoredEvent, StoreHead, BlobPut, AppendBatch, AppendResult, IndexEntry, StoreStats } from './store/store.js';
export { LocalStore, type LocalStoreOptions } from './store/local-store.js';
export { storeComplianceSuite, type StoreFactory } from './store/compliance-suite.js';

export { forkJournal, type ForkResult } from './journal/fork.js';
export type { DiskStats } from './journal/index-keys.js';

export { record, type RecordOptions, type RecordResult } from './capture/record.js';
export { recordVm, type RecordVmOptions, type RecordSummary } from './capture/record-vm.js';
export { restore, type RestoreOptions, type RestoreResult } from './capture/restore.js';
export { serveDisk, type ServeDiskOptions, type ServedDisk } from './capture/serve-disk.js';
export { JournalBlockDevice } from './capture/journal-block-device.js';
export { startNbdServer, FileBlockDevice, type BlockDevice, type NbdServer, type NbdServerOptions } from './capture/nbd/index.js';
export { Vm, startVm, type StartVmOptions, type VmExit } from './capture/qemu/vm.js';
export type { VmConfig, DiskSource } from './capture/qemu/vm-config.js';
export { QmpClient, type QmpEvent } from './capture/qemu/qmp-client.js';
export { qemuInfo, kvmUsable, defaultAccel, type QemuInfo } from './capture/qemu/qemu-info.js';
export { restoreVm, type RestoreVmOptions } from './capture/qemu/restore-vm.js';
export { scanPages, scanPagesAsync, sha256Pages, sha256PagesAsync, sha256Ranges, sha256BuffersAsync, gatherPages, nativeInfo, type ScanResult } from './native/index.js';
export { doctor, type DoctorReport } from './doctor.js';

export { ttj as proto } from './gen/events.js';
