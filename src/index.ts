/**
 * ttj — a time-travel journal for virtual machines. The curated public API.
 * @packageDocumentation
 */
export { TtjError, ErrorCodes, isTtjError, type ErrorCode, type TtjErrorDetails } from './errors.js';

export { Journal, DEFAULT_PAGE_SIZE, TTJ_VERSION, type JournalHead, type JournalHeader, type OpenJournalOptions } from './journal/journal.js';
export { JournalWriter, KEYFRAME_MAX_EPOCHS, type CommitResult } from './journal/writer.js';
export { initJournal, type InitResult } from './journal/init-journal.js';
export { appendImages, type ImageEpochInput, type AppendImagesResult } from './journal/append-images.js';
export { appendEventStream, parseEventStream, encodeEventStream } from './journal/append-events.js';
export { fold, foldState, type FoldOptions, type FoldManifest } from './journal/fold.js';
export { verify, type VerifyOptions, type VerifyReport } from './journal/verify.js';
export { log, type LogOptions, type LogResult } from './journal/log.js';
export { parsePoint, resolvePoint, type Point, type ResolvedPoint } from './journal/point.js';
export { VmState, type DeviceRef, type DiskState } from './journal/vm-state.js';
export { PageTable } from './journal/page-table.js';
export type { EpochEntry, FrameEntry } from './journal/index-keys.js';

export type { JournalStore, StoredEvent, StoreHead, BlobPut, AppendBatch, AppendResult, IndexEntry, StoreStats } from './store/store.js';
export { LocalStore, type LocalStoreOptions } from './store/local-store.js';
export { storeComplianceSuite, type StoreFactory } from './store/compliance-suite.js';

export { ttj as proto } from './gen/events.js';
