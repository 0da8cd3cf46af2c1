/**
 * A moving retention window while recording (`ttj record --keep-within`, `--max-size`,
 * like Zerto's journal history and size limits): after each epoch, a prune is started
 * when one is due, by the same mechanism as `ttj prune` (src/journal/prune.ts), in the
 * recording writer, between its appends; never two at once.
 *
 * - `keepWithinMs`: epochs older than the window (before the newest epoch's commit) are
 *   dropped; labelled epochs stay (as with `ttj prune`).
 * - `maxSize`: when the store's blob bytes (its statistics: compressed, as stored) pass
 *   it, the oldest epochs are dropped, labelled ones too: the newest epochs whose
 *   recorded stored bytes add up to half the cap stay (at least the newest). The size
 *   is approximate: an epoch's state may reach back to blobs older epochs stored.
 *   Crossing `warnSize` (default 80% of the cap) is reported once per crossing.
 */
import { isTtjError } from '../errors.js';
import { prune, type PruneResult } from './prune.js';
import type { RetentionPolicy } from './retention-policy.js';
import type { JournalWriter } from './writer.js';

/** Options of {@link MovingWindow}. */
export interface MovingWindowOptions {
  keepWithinMs?: number;
  maxSize?: number;
  /** Default 80% of `maxSize`. */
  warnSize?: number;
  /** A window prune runs at most this often (ms). Default 10000. */
  everyMs?: number;
  /** The journal passed `warnSize` (or `maxSize`). */
  onWarn?: (message: string) => void;
  /** A prune ran. */
  onPrune?: (r: PruneResult) => void;
}

/** Keeps a recording's journal within its window (see the module comment). */
export class MovingWindow {
  private running: Promise<void> | undefined;
  private lastRun = 0;
  private warned = false;
  /** Prunes run so far. */
  prunes = 0;
  /** The first error a prune met (recording goes on; the next prune tries again). */
  error: unknown;

  constructor(
    private readonly w: JournalWriter,
    private readonly opts: MovingWindowOptions,
  ) {}

  /** True when the options ask for a window at all. */
  get active(): boolean {
    return this.opts.keepWithinMs !== undefined || this.opts.maxSize !== undefined;
  }

  /** After an epoch is committed: starts a prune in the background when one is due. */
  poke(): void {
    if (!this.active || this.running) return;
    this.running = this.check()
      .catch((e: unknown) => {
        this.error ??= e;
        this.opts.onWarn?.(`a prune of the moving window failed (the next one tries again): ${(e as Error).message}`);
        if (!isTtjError(e)) throw e;
      })
      .finally(() => (this.running = undefined));
  }

  /** Settles once the prune in flight (if any) has. */
  async idle(): Promise<void> {
    await this.running;
  }

  private async check(): Promise<void> {
    const policy = (await this.overSize()) ?? (this.windowDue() ? ({ keepWithinMs: this.opts.keepWithinMs } satisfies RetentionPolicy) : undefined);
    if (!policy) return;
    this.lastRun = Date.now();
    const r = await prune(this.w, { policy });
    this.prunes++;
    this.opts.onPrune?.(r);
  }

  private windowDue(): boolean {
    return this.opts.keepWithinMs !== undefined && Date.now() - this.lastRun >= (this.opts.everyMs ?? 10000);
  }

  /** A policy that brings the journal back under the size cap, when it is over it. */
  private async overSize(): Promise<RetentionPolicy | undefined> {
    const max = this.opts.maxSize;
    if (max === undefined) return undefined;
    const size = (await this.w.storeStats()).storedBytes;
    const warnAt = this.opts.warnSize ?? max * 0.8;
    if (size < warnAt) this.warned = false;
    else if (!this.warned) {
      this.warned = true;
      this.opts.onWarn?.(`the journal holds ${size} bytes of blobs, past the warning size ${Math.round(warnAt)} (the cap is ${max}: older epochs are dropped past it)`);
    }
    if (size <= max) return undefined;
    const pruned = new Set<number>();
    for await (const p of this.w.prunedEpochs()) pruned.add(p.epoch);
    const live: number[] = [];
    for await (const e of this.w.epochs()) if (!pruned.has(e.epoch)) live.push(e.storedBytes);
    let keepLast = 0;
    for (let sum = 0, i = live.length - 1; i >= 0 && (keepLast === 0 || sum + live[i]! <= max / 2); i--) {
      sum += live[i]!;
      keepLast++;
    }
    return { keepLast: Math.max(1, keepLast), keepLabelled: false };
  }
}
