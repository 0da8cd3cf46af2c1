import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { parseDuration } from '../cli/units.js';
import { ErrorCodes, TtjError } from '../errors.js';
import { Journal } from '../journal/journal.js';
import { prunePlan, type PrunePlan } from '../journal/prune-plan.js';
import { BUCKET_RULES, type BucketRule, type RetentionPolicy } from '../journal/retention-policy.js';

const bucketFlags = Object.fromEntries(
  BUCKET_RULES.map((r) => [`keep-${r}`, Flags.integer({ description: `keep the newest epoch of each of the N most recent ${r} buckets (UTC) that have one`, helpValue: 'N' })]),
) as Record<`keep-${BucketRule}`, ReturnType<typeof Flags.integer>>;

export default class Prune extends TtjCommand<PrunePlan> {
  static override summary = 'Plan a prune of old epochs to a retention policy (only --dry-run in this version).';
  static override description =
    'restic/PBS-style rules choose the epochs to keep; the newest epoch, labelled epochs (unless --no-keep-labelled) and fork points are always kept. --dry-run lists each epoch (kept or dropped, and why) and estimates the space a prune would free. Removing history is not implemented yet: without --dry-run nothing is written and the command fails.';
  static override examples = ['<%= config.bin %> prune vm.ttj --keep-last 10 --keep-daily 7 --dry-run', '<%= config.bin %> prune postgres://db/vm --keep-within 2h --keep-fork-point epoch:12 --dry-run --json'];
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

  async run(): Promise<PrunePlan> {
    const { args, flags } = await this.parse(Prune);
    if (!flags['dry-run']) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'ttj prune only runs with --dry-run in this version; removing history lands with the online prune (docs/architecture.md, "Retention (planned)")');
    }
    const policy: RetentionPolicy = {
      keepWithinMs: flags['keep-within'] !== undefined ? parseDuration(flags['keep-within'], 'keep-within') : undefined,
      keepLast: flags['keep-last'],
      keep: Object.fromEntries(BUCKET_RULES.flatMap((r) => (flags[`keep-${r}`] !== undefined ? [[r, flags[`keep-${r}`]]] : []))),
      keepLabels: flags['keep-label'],
      keepLabelled: flags['keep-labelled'],
    };
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    try {
      const plan = await prunePlan(j, { policy, forkPoints: flags['keep-fork-point'] });
      if (!this.jsonEnabled()) this.print(plan);
      return plan;
    } finally {
      await j.close();
    }
  }

  private print(p: PrunePlan): void {
    const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
    for (const e of p.epochs) {
      const frames = e.frames.length ? `  frames ${e.frames[0]}${e.frames.length > 1 ? `..${e.frames[e.frames.length - 1]}` : ''}` : '';
      const labels = e.labels.length ? `  "${e.labels.join('", "')}"` : '';
      this.log(`epoch ${String(e.epoch).padStart(4)}  seq ${String(e.seq).padStart(6)}  ${e.time}  ${e.keep ? 'keep' : 'drop'}  ${e.reasons.join(',').padEnd(16)}${labels}${frames}`.trimEnd());
    }
    this.log(
      `dry run: would keep ${p.kept.epochs} epochs (${p.kept.frames} frames), drop ${p.dropped.epochs} epochs (${p.dropped.frames} frames), and free about ${p.freed.blobs} blobs (${mib(p.freed.bytes)} of content)`,
    );
  }
}
