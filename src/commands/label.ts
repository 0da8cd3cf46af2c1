import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { signWithFlag, signingKeyFrom } from '../cli/sign-with-flag.js';
import { labelJournal, type LabelResult } from '../journal/label.js';

export default class Label extends TtjCommand<LabelResult> {
  static override summary = 'Label the epoch of a POINT (default head), also one committed long ago.';
  static override description =
    'Appends a label event naming the epoch of POINT (frame:N: the last epoch committed before frame N); label:TEXT then finds it (the newest epoch carrying TEXT), ttj log lists it on that epoch. The epoch must be committed and not pruned. While ttj record or ttj nbd writes the journal, that writer appends the label between its own appends.';
  static override examples = ['<%= config.bin %> label vm.ttj "before upgrade"', '<%= config.bin %> label vm.ttj "login prompt" --at frame:120 --json'];
  static override args = {
    journal: Args.string({ description: 'journal directory or postgres:// URL', required: true }),
    text: Args.string({ description: 'the label', required: true }),
  };
  static override flags = {
    at: Flags.string({ description: 'POINT whose epoch gets the label', default: 'head' }),
    'sign-with': signWithFlag,
    'password-file': passwordFileFlag,
  };

  async run(): Promise<LabelResult> {
    const { args, flags } = await this.parse(Label);
    const signWith = await signingKeyFrom(flags['sign-with']);
    const r = await labelJournal(args.journal, { text: args.text, at: flags.at, password: await readPassword(flags['password-file']), signWith });
    this.log(`labelled epoch ${r.epoch} (${r.at}) "${r.text}" (event ${r.seq})`);
    return r;
  }
}
