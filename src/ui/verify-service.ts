import { ErrorCodes } from '../errors.js';
import type { Journal } from '../journal/journal.js';
import { resolvePoint, type ResolvedPoint } from '../journal/point.js';
import type { TrustedKey } from '../journal/signing-key.js';
import { LiveVerifier, type LiveVerifyStatus } from '../journal/verify-live.js';
import { verifyPointDeep, type PointDeepReport } from '../journal/verify-point.js';
import { verifyError, type VerifyReport } from '../journal/verify.js';

/** A deep check of one point (`POST /api/verify`): running with its progress, or its result. */
export interface DeepCheck {
  at: string;
  state: 'running' | 'ok' | 'failed';
  /** Blobs read back and re-hashed so far, of `total` the point needs. */
  done: number;
  total: number;
  report?: PointDeepReport;
}

/** `GET /api/verify?at=POINT`: what is proven of a point (docs/ui.md, "Verification"). */
export interface PointVerification {
  at: string;
  /** The last event the point needs (a frame point: its frame's event); what is proven is proven up to it. */
  seq: number;
  epoch: number;
  frame?: number;
  /**
   * The hash chain, state roots, keyframes and stored blobs of every event up to the point:
   * `ok` (they verify), `failed` (the first problem is at or before it: `error`), `pending`
   * (the server's verify has not reached it yet), `unproven` (the verify stopped at a
   * problem after the point, in a stretch not yet proven: nothing is claimed).
   */
  status: 'ok' | 'failed' | 'pending' | 'unproven';
  error?: VerifyReport['error'];
  /**
   * Signatures: with a trusted key (`ttj ui --trust`), `ok` (the point is covered by a
   * signature of it that holds), `failed` (a bad signature at or before it), `uncovered` (no
   * signature of the trusted key covers it yet), `pending`; without one, `unchecked` (the
   * journal claims `signer`; no key to check it) or `unsigned`.
   */
  signatures: { status: 'ok' | 'failed' | 'uncovered' | 'pending' | 'unchecked' | 'unsigned'; signer?: string; trusted?: string };
  /** The server's verify of the whole journal so far. */
  journal: LiveVerifyStatus;
  /** The last deep check of this point, if one was asked for. */
  deep?: DeepCheck;
}

/**
 * The verification behind the page's panel: `verify` of the journal, run once up to the
 * head when the page first asks and extended as each commit arrives ({@link LiveVerifier}:
 * only the new events are checked), answered per point; and deep checks of single points
 * ({@link verifyPointDeep}), one at a time per point, with progress.
 */
export class VerifyService {
  private readonly live: LiveVerifier;
  private readonly deep = new Map<string, DeepCheck>();
  private readonly running = new Set<Promise<unknown>>();
  /** Deep checks kept (the oldest results are forgotten). */
  private static readonly KEEP = 32;

  private started = false;

  constructor(
    private readonly j: Journal,
    private readonly closing: AbortSignal,
    trust?: TrustedKey,
  ) {
    this.live = new LiveVerifier(j, { trust });
  }

  /**
   * Starts the verify up to the head and follows the journal's commits until `closing`
   * aborts, once the page first asks (so it does not compete with the page's first load).
   */
  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.live.update();
    void (async () => {
      try {
        for await (const _ of this.j.watch({ signal: this.closing })) void this.live.update();
      } catch {
        // closing, or the journal went away: the status stays where it got to
      }
    })();
  }

  /** Waits for the checks running now (before the journal is closed). */
  async idle(): Promise<void> {
    await Promise.allSettled([...(this.started ? [this.live.update()] : []), ...this.running]);
  }

  /**
   * What is proven of POINT `at`.
   * @throws TtjError BAD_POINT, POINT_NOT_FOUND, NO_EPOCH.
   */
  async at(at: string): Promise<PointVerification> {
    this.start();
    const p = await resolvePoint(this.j, at);
    return this.answer(at, p);
  }

  /**
   * Starts the deep check of POINT `at` (unless one is running for it) and answers as {@link at}.
   * @throws TtjError BAD_POINT, POINT_NOT_FOUND, NO_EPOCH.
   */
  async startDeep(at: string): Promise<PointVerification> {
    this.start();
    const p = await resolvePoint(this.j, at);
    if (this.deep.get(at)?.state !== 'running') {
      const job: DeepCheck = { at, state: 'running', done: 0, total: 0 };
      this.deep.delete(at);
      this.deep.set(at, job);
      if (this.deep.size > VerifyService.KEEP) this.deep.delete(this.deep.keys().next().value!);
      const run = verifyPointDeep(this.j, at, {
        onProgress: (done, total) => Object.assign(job, { done, total }),
      }).then(
        (report) => Object.assign(job, { state: report.ok ? 'ok' : 'failed', report }),
        (e: unknown) => Object.assign(job, { state: 'failed', report: { ok: false, point: at, seq: p.seq, epoch: p.epoch, blobs: 0, blobsChecked: 0, bytesChecked: 0, error: verifyError(e) } }),
      );
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
    return this.answer(at, p);
  }

  private async answer(at: string, p: ResolvedPoint): Promise<PointVerification> {
    const journal = this.live.status;
    const e = journal.error;
    // A frame point needs its frame's event too (after its epoch's commit).
    const seq = Math.max(p.seq, p.frame?.seq ?? -1);
    let status: PointVerification['status'];
    if (e && (e.seq === undefined || e.seq <= seq)) status = 'failed';
    else if (seq <= journal.verifiedSeq) status = 'ok';
    else status = e ? 'unproven' : 'pending';
    const signer = p.epoch >= 0 ? (await this.j.epoch(p.epoch))?.signer : undefined;
    const deep = this.deep.get(at);
    return {
      at,
      seq,
      epoch: p.epoch,
      frame: p.frame?.frame,
      status,
      ...(status === 'failed' ? { error: e } : {}),
      signatures: this.signatures(seq, journal, signer),
      journal,
      ...(deep ? { deep: { ...deep } } : {}),
    };
  }

  private signatures(seq: number, st: LiveVerifyStatus, signer: string | undefined): PointVerification['signatures'] {
    const c = st.custody;
    if (!c) return signer ? { status: 'unchecked', signer } : { status: 'unsigned' };
    const e = st.error;
    const base = { trusted: c.trusted, ...(signer ? { signer } : {}) };
    if (e?.code === ErrorCodes.BAD_SIGNATURE && (e.seq === undefined || e.seq <= seq)) return { status: 'failed', ...base };
    if (seq <= c.lastSignedSeq) return { status: 'ok', ...base };
    return { status: seq > st.verifiedSeq && !e ? 'pending' : 'uncovered', ...base };
  }
}
