/**
 * The page's Fold and Export buttons: one job at a time, run in the `ttj ui` process (the
 * page's user is the local user who started it) with the library's {@link fold} and
 * {@link exportPoint}, each into its own directory under the server's output directory.
 * The page polls the job's progress (`GET /api/jobs`).
 */
import { join } from 'node:path';
import { ErrorCodes, isTtjError, TtjError, toTtjError } from '../errors.js';
import { fold } from '../journal/fold.js';
import type { Journal } from '../journal/journal.js';
import { exportPoint } from '../replay/export/export-point.js';

/** What a job does: `ttj fold` or `ttj export` (default formats) of a POINT. */
export type UiJobKind = 'fold' | 'export';
const UI_JOB_KINDS: readonly UiJobKind[] = ['fold', 'export'];

/** A finished job's result: where its files are, and the manifest's summary. */
interface UiJobSummary {
  /** The directory written (absolute when the output directory is). */
  dir: string;
  point: string;
  epoch: number;
  seq: number;
  frame?: number;
  /** The state root of the folded epoch (hex). */
  stateRoot?: string;
  /** Every file written but manifest.json, relative to `dir`, with its size (and SHA-256 for an export). */
  files: { file: string; size: number; sha256?: string }[];
  /** Their sizes added up. */
  bytes: number;
}

/** A fold or export asked for from the page, as `GET /api/jobs` reports it. */
export interface UiJob {
  id: number;
  kind: UiJobKind;
  at: string;
  state: 'running' | 'done' | 'failed';
  /** Bytes written by the fold so far, of `total` (an export converts after its fold: `done === total` while it does). */
  done: number;
  total: number;
  started: string;
  finished?: string;
  result?: UiJobSummary;
  /** A failed job's error, in the `--json` error shape. */
  error?: { code: string; message: string };
}

/** The journal of the family a job reads: open for its folds, its location for exports (which open it themselves), its journal id. */
export interface UiJobSource {
  journal: Journal;
  location: string;
  id: string;
}

/** A point as a directory name: `frame:12` → `frame-12` (other characters as `_`); `prefix` names a fork's jobs apart. */
function dirName(kind: UiJobKind, at: string, prefix = ''): string {
  return `${prefix}${kind}-${at.replace(/:/, '-').replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 120);
}

/** Runs the page's jobs one at a time; keeps the last one to report. */
export class UiJobs {
  private job: UiJob | undefined;
  private ids = 0;
  private running: Promise<void> = Promise.resolve();

  /**
   * @param password the journals' password, for exports (which open the journal themselves)
   * @param out the directory the jobs write into (one subdirectory each)
   * @param startId the journal id of the journal the server was started on (the jobs of others, forks, get its id before their directory's name)
   */
  constructor(
    private readonly password: string | undefined,
    readonly out: string,
    private readonly startId: string,
  ) {}

  /** The running job, else the last one (undefined before the first). */
  get current(): UiJob | undefined {
    return this.job;
  }

  /**
   * Starts a `kind` job of the POINT `at` and returns it running (it goes on in the background).
   * @throws TtjError BAD_ARGUMENT (kind or point missing), LOCKED (a job is running: one at a time).
   */
  start(kind: unknown, at: unknown, source: UiJobSource): UiJob {
    if (!UI_JOB_KINDS.includes(kind as UiJobKind)) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `a job is one of ${UI_JOB_KINDS.join(', ')}`, { actual: String(kind) });
    if (typeof at !== 'string' || !at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'a job needs {"at": POINT}');
    if (this.job?.state === 'running') throw new TtjError(ErrorCodes.LOCKED, `a ${this.job.kind} of ${this.job.at} is running; one job at a time`, { path: this.out });
    const job: UiJob = { id: ++this.ids, kind: kind as UiJobKind, at, state: 'running', done: 0, total: 0, started: new Date().toISOString() };
    this.job = job;
    this.running = this.run(job, source, join(this.out, dirName(job.kind, at, source.id === this.startId ? '' : `${source.id.slice(0, 8)}-`)));
    return job;
  }

  /** Resolves once no job is running (the server waits for it before closing the journal). */
  idle(): Promise<void> {
    return this.running;
  }

  private async run(job: UiJob, source: UiJobSource, dir: string): Promise<void> {
    const onProgress = (done: number, total: number) => {
      job.done = done;
      job.total = total;
    };
    try {
      job.result = job.kind === 'fold' ? await this.fold(source.journal, job.at, dir, onProgress) : await this.export(source.location, job.at, dir, onProgress);
      job.state = 'done';
    } catch (e) {
      const err = isTtjError(e) ? e : toTtjError(e);
      job.error = { code: err.code, message: err.message };
      job.state = 'failed';
    }
    job.finished = new Date().toISOString();
  }

  private async fold(journal: Journal, at: string, dir: string, onProgress: (d: number, t: number) => void): Promise<UiJobSummary> {
    const m = await fold(journal, { at, out: dir, onProgress });
    const files = [m.memory, ...m.disks, m.device, m.frameImage, m.audio].flatMap((f) => (f ? [{ file: f.file, size: f.size }] : []));
    return summary(dir, m, files);
  }

  private async export(location: string, at: string, dir: string, onProgress: (d: number, t: number) => void): Promise<UiJobSummary> {
    const m = await exportPoint(location, { at, out: dir, password: this.password, onProgress });
    return summary(dir, m, m.files);
  }
}

function summary(dir: string, m: { point: string; epoch: number; seq: number; frame?: number; stateRoot?: string }, files: UiJobSummary['files']): UiJobSummary {
  return { dir, point: m.point, epoch: m.epoch, seq: m.seq, frame: m.frame, stateRoot: m.stateRoot, files, bytes: files.reduce((n, f) => n + f.size, 0) };
}
