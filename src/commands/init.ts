import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { initJournal, type InitResult } from '../journal/init-journal.js';

export default class Init extends TtjCommand<InitResult> {
  static override summary = 'Create an empty journal.';
  static override examples = ['<%= config.bin %> init vm.ttj', '<%= config.bin %> init vm.ttj --page-size 4096 --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    'page-size': Flags.integer({ description: 'bytes per memory page and disk block (power of two)', default: 4096 }),
    encrypt: Flags.boolean({ description: 'encrypt the journal with the password (TTJ_PASSWORD or --password-file): docs/format.md, "Encryption"', default: false }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<InitResult> {
    const { args, flags } = await this.parse(Init);
    const r = await initJournal(args.journal, { pageSize: flags['page-size'], encrypt: flags.encrypt, password: await readPassword(flags['password-file']) });
    this.log(`created ${r.encrypted ? 'encrypted ' : ''}journal ${r.journal} (page size ${r.pageSize}, id ${r.journalId})`);
    return r;
  }
}
