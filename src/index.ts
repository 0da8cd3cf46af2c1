/**
 * ttj — a time-travel journal for virtual machines. The main entry: open a journal,
 * append epochs, fold any point back, verify, list, iterate events and watch commits.
 *
 * ```ts
 * import { Journal, JournalWriter, appendImages, fold, verify } from 'ttj';
 * const w = await JournalWriter.openWriter('vm.ttj');
 * await appendImages(w, { memory: 'mem.raw', disks: [{ name: 'd0', path: 'disk0.img' }] });
 * await w.close();
 * const j = await Journal.open('vm.ttj');
 * await fold(j, { at: 'head', out: 'state/' });
 * for await (const c of j.watch({ signal })) console.log(c.epochs);
 * ```
 *
 * Building blocks have entries of their own: `ttj/store` (the store interface and the
 * embedded store), `ttj/qemu` (record, restore, QEMU), `ttj/nbd` (the NBD server),
 * `ttj/native` (the page scanner and hashing), `ttj/testing` (the store compliance suite).
 * @packageDocumentation
 */
export { TtjError, ErrorCodes, isTtjError, type ErrorCode, type ErrorDetails, type CommonErrorDetails, type FileSystemDetails, type TtjErrorDetails, type AnyTtjError } from './errors.js';

export { Journal, DEFAULT_PAGE_SIZE, FORMAT_VERSION, TTJ_VERSION, type JournalHead, type JournalHeader, type OpenJournalOptions, type JournalEvent, type JournalCommit } from './journal/journal.js';
export { JournalWriter, type CommitResult, type OpenWriterOptions } from './journal/writer.js';
export { initJournal, type InitResult } from './journal/init-journal.js';
export { appendImages, DEFAULT_DISK_BLOCK_SIZE, type ImageEpochInput, type AppendImagesResult, type AudioInput } from './journal/append-images.js';
export type { ChangedPages } from './journal/image-diff.js';
export { audioBetween, audioInRange, wavBytes, type AudioClip } from './journal/audio.js';
export type { PcmLayout } from './journal/audio-format.js';
export { appendEventStream, parseEventStream, encodeEventStream } from './journal/append-events.js';
export { fold, type FoldOptions, type FoldManifest } from './journal/fold.js';
export { labelJournal, labelEpoch, type LabelRequest, type LabelResult, type LabelJournalOptions } from './journal/label.js';
export { verify, type VerifyOptions, type VerifyReport } from './journal/verify.js';
export type { CustodyReport } from './journal/custody-check.js';
export { generateKeyFiles, loadSigningKey, loadTrustedKey, type GeneratedKey, type SigningKey, type TrustedKey } from './journal/signing-key.js';
export { log, type LogOptions, type LogResult } from './journal/log.js';
export { grep, type GrepOptions, type GrepResult, type GrepPlace, type GrepSpan, type GrepMoment } from './journal/grep.js';
export type { GrepPatternInput } from './journal/grep-pattern.js';
export { repairJournal, type RepairOptions, type RepairReport } from './journal/repair.js';
export { forkJournal, type ForkResult } from './journal/fork.js';
export { push, type PushOptions, type PushResult, type PushProgress, type PushLag } from './journal/push.js';
export type { BatchLimits } from './journal/push-batches.js';
export { parsePoint, type Point } from './journal/point.js';
export { diff, type DiffOptions, type DiffResult, type DiffPoint, type MemoryDiff, type DiskDiff, type DeviceDiff, type PageRange, type DiskRange } from './journal/diff.js';
export { blame, type BlameTarget, type BlameResult, type BlameChange, type BlamedEntry } from './journal/blame.js';
export { entryAt, type EntryAt } from './journal/entry-at.js';
export type { EpochEntry, FrameEntry, AudioEntry, DiskStats } from './journal/index-keys.js';
export { doctor, type DoctorReport } from './doctor.js';
export { exportPoint, type ExportOptions } from './replay/export/export-point.js';
export type { ExportManifest } from './replay/export/export-manifest.js';
export { changePassword, type ChangedPassword, type EncryptionOptions, type JournalKeySource } from './store/journal-key.js';

/** The generated protobuf classes of the event schema (proto/ttj/v1/*.proto): `proto.v1.Event` decodes and encodes events. */
export { ttj as proto } from './gen/events.js';
