import { Args, Flags } from '@oclif/core';
import { TtjCommand } from '../../cli/base-command.js';
import { passwordFileFlag, readPassword } from '../../cli/password.js';
import { ErrorCodes, TtjError } from '../../errors.js';
import { changePassword, type ChangedPassword } from '../../store/journal-key.js';

export default class KeyPasswd extends TtjCommand<ChangedPassword> {
  static override summary = "Change an encrypted journal's password.";
  static override description =
    'Rewraps the master key for the new password and replaces the key file atomically; the data is not rewritten. The current password comes from TTJ_PASSWORD or --password-file, the new one from TTJ_NEW_PASSWORD or --new-password-file (never from an argument).';
  static override examples = ['TTJ_PASSWORD=old TTJ_NEW_PASSWORD=new <%= config.bin %> key passwd vm.ttj', '<%= config.bin %> key passwd vm.ttj --password-file old.txt --new-password-file new.txt --json'];
  static override args = { journal: Args.string({ description: 'journal directory or location', required: true }) };
  static override flags = {
    'password-file': passwordFileFlag,
    'new-password-file': Flags.string({ description: 'file whose first line is the new password (else TTJ_NEW_PASSWORD)', helpValue: 'FILE' }),
  };

  async run(): Promise<ChangedPassword> {
    const { args, flags } = await this.parse(KeyPasswd);
    const old = await readPassword(flags['password-file']);
    const next = flags['new-password-file'] === undefined ? process.env.TTJ_NEW_PASSWORD : await readPassword(flags['new-password-file']);
    if (old === undefined) throw new TtjError(ErrorCodes.PASSWORD_REQUIRED, 'give the current password (TTJ_PASSWORD or --password-file)');
    if (next === undefined) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'give the new password (TTJ_NEW_PASSWORD or --new-password-file)', { flag: 'new-password-file' });
    const r = await changePassword(args.journal, old, next);
    this.log(`changed the password of ${r.journal} (key ${r.keyId}; the data is unchanged)`);
    return r;
  }
}
