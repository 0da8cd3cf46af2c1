import { ErrorCodes, TtjError } from '../errors.js';
import { CustodyCheck } from './custody-check.js';
import type { Journal } from './journal.js';
import type { TrustedKey } from './signing-key.js';
import { checkIndex, EventChecks, keptOfPruned, verifyError, type VerifyReport } from './verify.js';

/** What a {@link LiveVerifier} has proven so far. */
export interface LiveVerifyStatus {
  /** Events 0..verifiedSeq verify (hash chain, state roots, keyframes, numbering, blobs stored, signatures with a trusted key); -1: none yet. */
  verifiedSeq: number;
  /** The journal's head seq when the last check began (-1: none yet). */
  headSeq: number;
  /** True while a check runs. */
  running: boolean;
  /** The index was checked against the events (once, by the first check up to the head). */
  indexChecked: boolean;
  events: number;
  epochs: number;
  frames: number;
  keyframes: number;
  blobsReferenced: number;
  /** With a trusted key: its fingerprint, the signed events checked, and the last seq they cover (-1: none). */
  custody?: { trusted: string; signatures: number; lastSignedSeq: number };
  /** The first problem found (verification stops there: nothing after it is proven). */
  error?: VerifyReport['error'];
}

/**
 * `verify` of a journal that may grow (a writer appending while it is watched), kept up to
 * date incrementally: each {@link update} checks only the events appended since the last
 * one, with the checks of {@link verify} without `deep` (the index is compared with the
 * events once, by the first update). Every event up to {@link LiveVerifyStatus.verifiedSeq}
 * verifies; a failure is kept and ends the checking.
 */
export class LiveVerifier {
  private checks: EventChecks | undefined;
  private readonly custody: CustodyCheck;
  private readonly st: LiveVerifyStatus;
  private busy: Promise<unknown> = Promise.resolve();
  private queued: Promise<LiveVerifyStatus> | undefined;

  constructor(
    private readonly j: Journal,
    opts: { trust?: TrustedKey } = {},
  ) {
    this.custody = new CustodyCheck(opts.trust);
    const trusted = this.custody.report.trusted;
    this.st = { verifiedSeq: -1, headSeq: -1, running: false, indexChecked: false, events: 0, epochs: 0, frames: 0, keyframes: 0, blobsReferenced: 0 };
    if (trusted) this.st.custody = { trusted, signatures: 0, lastSignedSeq: -1 };
  }

  /** A copy of what is proven now (a check may be running). */
  get status(): LiveVerifyStatus {
    return { ...this.st, custody: this.st.custody && { ...this.st.custody } };
  }

  /**
   * Checks the events appended since the last update, up to the head now (one update at a
   * time; calls while one waits to start share it: it reads the head when it starts);
   * resolves with the status after it.
   */
  update(): Promise<LiveVerifyStatus> {
    if (this.queued) return this.queued;
    const next = this.busy
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.run();
      });
    this.queued = next;
    this.busy = next;
    return next;
  }

  private async run(): Promise<LiveVerifyStatus> {
    const st = this.st;
    if (st.error) return this.status;
    st.running = true;
    try {
      const head = await this.j.storeHead();
      if (!head) throw new TtjError(ErrorCodes.NOT_A_JOURNAL, 'the journal has no events');
      st.headSeq = head.seq;
      if (head.seq > st.verifiedSeq) {
        const checks = (this.checks ??= new EventChecks(this.j, emptyReport(), this.custody, await keptOfPruned(this.j), false));
        await checks.extend(head.seq, () => this.took(checks.report), true);
        checks.anchored(head);
        if (!st.indexChecked) {
          await checkIndex(this.j, checks.index, head.seq);
          st.indexChecked = true;
        }
        this.took(checks.report);
      }
    } catch (e) {
      st.error = verifyError(e);
      await this.provenBefore(st.error.seq);
    } finally {
      st.running = false;
    }
    return this.status;
  }

  /**
   * After a failure at `seq`: the events before it whose own checks passed count as
   * verified once the blobs they name are checked too.
   */
  private async provenBefore(seq: number | undefined): Promise<void> {
    const c = this.checks;
    if (!c || seq === undefined) return;
    const upTo = Math.min(c.fedSeq, seq - 1);
    if (upTo <= this.st.verifiedSeq) return;
    try {
      await c.flushBlobs();
      this.st.verifiedSeq = upTo;
    } catch {
      // a blob before it is missing too: the first problem stays the one reported
    }
  }

  /** Takes the counts of the events checked so far. */
  private took(r: VerifyReport): void {
    const st = this.st;
    Object.assign(st, { verifiedSeq: r.events - 1, events: r.events, epochs: r.epochs, frames: r.frames, keyframes: r.keyframes, blobsReferenced: r.blobsReferenced });
    if (st.custody) Object.assign(st.custody, { signatures: this.custody.report.signatures, lastSignedSeq: this.custody.lastSignedSeq });
  }
}

function emptyReport(): VerifyReport {
  return { ok: false, deep: false, events: 0, epochs: 0, frames: 0, keyframes: 0, blobsReferenced: 0, blobsChecked: 0, bytesChecked: 0 };
}
