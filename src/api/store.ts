/**
 * `ttj/store`: the store boundary. {@link JournalStore} is what every backend
 * implements (and `ttj/testing`'s compliance suite checks); {@link openStore} opens one
 * from a location; {@link LocalStore} is the embedded backend (LevelDB + pack files).
 * @packageDocumentation
 */
export type { JournalStore, StoredEvent, StoreHead, BlobPut, AppendBatch, AppendResult, IndexEntry, IndexRange, StoreStats } from '../store/store.js';
export { openStore, isUrlLocation, type OpenStoreOptions } from '../store/open-store.js';
export { LocalStore, type LocalStoreOptions, type CacheMode } from '../store/local-store.js';
export { VmState, MAX_DISK_BLOCK_SIZE, type DeviceRef, type DiskState } from '../journal/vm-state.js';
export { PageTable } from '../journal/page-table.js';
export type { LockHolder } from '../store/writer-lock.js';
