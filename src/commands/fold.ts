import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { Progress } from '../cli/progress.js';
import { fold, type FoldManifest } from '../journal/fold.js';
import { Journal } from '../journal/journal.js';

export default class Fold extends TtjCommand<FoldManifest> {
  static override summary = 'Write the VM state at a POINT: memory.raw, disks/NAME.raw, device.bin, frame.png, manifest.json.';
  static override description = 'POINT is head, epoch:N, frame:N, seq:N, time:ISO-8601 or label:TEXT. frame:N folds the last epoch committed before frame N.';
  static override examples = ['<%= config.bin %> fold vm.ttj --at frame:12 --out /tmp/state', '<%= config.bin %> fold vm.ttj --at label:"before upgrade" --out out --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    at: Flags.string({ description: 'POINT to fold at', default: 'head' }),
    out: Flags.string({ description: 'output directory', required: true }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<FoldManifest> {
    const { args, flags } = await this.parse(Fold);
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    const bar = new Progress('folding', this.interactive);
    try {
      const m = await fold(j, { at: flags.at, out: flags.out, onProgress: (d, t) => bar.update(d, t) });
      bar.done();
      this.log(`folded ${m.point} (epoch ${m.epoch}, seq ${m.seq}${m.frame !== undefined ? `, frame ${m.frame}` : ''}) into ${flags.out}`);
      return m;
    } finally {
      bar.done();
      await j.close();
    }
  }
}
