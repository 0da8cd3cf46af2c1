/** The JSON the server answers with (docs/ui.md); type-only imports of the library's result types. */
export type { Timeline } from '../timeline.js';
export type { VmInfo } from '../vm-session.js';
export type { DiskLanes } from '../disk-lanes.js';
export type { PointVerification } from '../verify-service.js';
export type { DiffResult } from '../../journal/diff.js';
export type { JournalCommit } from '../../journal/journal.js';
export type { EpochEntry, FrameEntry } from '../../journal/index-keys.js';
export type { FamilyListing, FamilyMember } from '../journal-family.js';
export type { ForkStarted } from '../fork-request.js';
export type { LabelResult } from '../../journal/label.js';
export type { UiJob, UiJobKind } from '../jobs.js';
