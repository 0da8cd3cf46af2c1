import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { repairJournal, type RepairReport } from '../journal/repair.js';

export default class Repair extends TtjCommand<RepairReport> {
  static override summary = "Rebuild a journal's index and head from its events.";
  static override description =
    'The events are the source of truth: they must be whole (gapless, hash-chained, every state root holding). The index (epochs, frames, labels, keyframes, disk statistics) and the head are derived from them again and written in one atomic step; blobs are not touched. Takes the writer lock.';
  static override examples = ['<%= config.bin %> repair vm.ttj', '<%= config.bin %> repair vm.ttj --dry-run --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = { 'dry-run': Flags.boolean({ description: 'only say what would change', default: false }), 'password-file': passwordFileFlag };

  async run(): Promise<RepairReport> {
    const { args, flags } = await this.parse(Repair);
    const r = await repairJournal(args.journal, { dryRun: flags['dry-run'], password: await readPassword(flags['password-file']) });
    const what = r.changed === 0 ? 'the index already matches the events' : `${r.changed} index entries ${r.dryRun ? 'would be' : 'were'} rebuilt`;
    this.log(`${what}: ${r.events} events, ${r.epochs} epochs, ${r.frames} frames, head ${r.head.seq}`);
    return r;
  }
}
