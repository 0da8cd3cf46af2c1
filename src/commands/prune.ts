import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { parseDuration } from '../cli/units.js';
import { Journal } from '../journal/journal.js';
import { prunePlan } from '../journal/prune-plan.js';
import type { PruneResult } from '../journal/prune.js';
import { pruneJournal } from '../journal/prune-journal.js';
import { BUCKET_RULES, type BucketRule, type RetentionPolicy } from '../journal/retention-policy.js';

const bucketFlags = Object.fromEntries(
  BUCKET_RULES.map((r) => [`keep-${r}`, Flags.integer({ description: `keep the newest epoch of each of the N most recent ${r} buckets (UTC) that have one`, helpValue: 'N' })]),
) as Record<`keep-${BucketRule}`, ReturnType<typeof Flags.integer>>;

export default class Prune extends TtjCommand<PruneResult> {
  static override summary = 'Drop old epochs to a retention policy and give their space back.';
  static override description =
    'restic/PBS-style rules choose the epochs to keep; the newest epoch, labelled epochs (unless --no-keep-labelled) and fork points are always kept. The dropped epochs are recorded in a prune event (their points then fail with TTJ_PRUNED; every event stays, so the hash chain still verifies), the blobs no kept point needs are removed and the store compacted. --dry-run lists each epoch (kept or dropped, and why) and the space a prune would free, and writes nothing. Takes the writer lock; while a live writer (ttj record, ttj nbd) holds it, that writer is asked to run the prune between its appends (docs/architecture.md, "Retention"). An interrupted prune is finished by running it again.';
  static override examples = [
    '<%= config.bin %> prune vm.ttj --keep-last 10 --keep-daily 7 --dry-run',
    '<%= config.bin %> prune vm.ttj --keep-last 50',
    '<%= config.bin %> prune postgres://db/vm --keep-within 2h --keep-fork-point epoch:12 --json',
  ];
  static override args = { journal: Args.string({ description: 'journal directory or postgres:// URL', required: true }) };
  static override flags = {
    'keep-within': Flags.string({ description: 'keep epochs committed within DURATION of the newest one (e.g. 90m, 2h, 7d)', helpValue: 'DURATION' }),
    'keep-last': Flags.integer({ description: 'keep the N newest epochs', helpValue: 'N' }),
    ...bucketFlags,
    'keep-label': Flags.string({ description: 'keep epochs with this label (repeatable)', multiple: true, helpValue: 'TEXT' }),
    'keep-labelled': Flags.boolean({ description: 'keep every labelled epoch (--no-keep-labelled: only those --keep-label names)', default: true, allowNo: true }),
    'keep-fork-point': Flags.string({ description: 'a POINT (or seq) a fork of this journal was made from: its epoch is kept (repeatable)', multiple: true, helpValue: 'POINT' }),
    'dry-run': Flags.boolean({ description: 'only list what a prune would keep and drop, and the space it would free', default: false }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<PruneResult> {
    const { args, flags } = await this.parse(Prune);
    const policy: RetentionPolicy = {
      keepWithinMs: flags['keep-within'] !== undefined ? parseDuration(flags['keep-within'], 'keep-within') : undefined,
      keepLast: flags['keep-last'],
      keep: Object.fromEntries(BUCKET_RULES.flatMap((r) => (flags[`keep-${r}`] !== undefined ? [[r, flags[`keep-${r}`]]] : []))),
      keepLabels: flags['keep-label'],
      keepLabelled: flags['keep-labelled'],
    };
    const opts = { policy, forkPoints: flags['keep-fork-point'] };
    const password = await readPassword(flags['password-file']);
    const result = flags['dry-run'] ? await withReader(args.journal, password, (j) => prunePlan(j, opts)) : await pruneJournal(args.journal, { ...opts, password });
    if (!this.jsonEnabled()) this.print(result);
    return result;
  }

  private print(p: PruneResult): void {
    const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
    for (const e of p.epochs) {
      const frames = e.frames.length ? `  frames ${e.frames[0]}${e.frames.length > 1 ? `..${e.frames[e.frames.length - 1]}` : ''}` : '';
      const labels = e.labels.length ? `  "${e.labels.join('", "')}"` : '';
      this.log(`epoch ${String(e.epoch).padStart(4)}  seq ${String(e.seq).padStart(6)}  ${e.time}  ${e.keep ? 'keep' : 'drop'}  ${e.reasons.join(',').padEnd(16)}${labels}${frames}`.trimEnd());
    }
    const before = p.prunedBefore ? ` (${p.prunedBefore} epochs were pruned before)` : '';
    if (p.dryRun) {
      this.log(
        `dry run: would keep ${p.kept.epochs} epochs (${p.kept.frames} frames), drop ${p.dropped.epochs} epochs (${p.dropped.frames} frames), and free ${p.freed.blobs} blobs (${mib(p.freed.bytes)} of content)${before}`,
      );
      return;
    }
    const c = p.collected!;
    const recorded = p.pruneSeq !== undefined ? ` (prune event ${p.pruneSeq})` : '';
    this.log(`kept ${p.kept.epochs} epochs (${p.kept.frames} frames), dropped ${p.dropped.epochs} epochs (${p.dropped.frames} frames)${recorded}${before}`);
    this.log(
      `removed ${c.removed.blobs} blobs (${mib(c.removed.rawBytes)} of content); compaction rewrote ${c.compacted.rewritten} and removed ${c.compacted.removed} storage files, ${mib(c.compacted.bytesFreed)} given back`,
    );
  }
}

async function withReader<T>(location: string, password: string | undefined, fn: (j: Journal) => Promise<T>): Promise<T> {
  const j = await Journal.open(location, { password });
  try {
    return await fn(j);
  } finally {
    await j.close();
  }
}
