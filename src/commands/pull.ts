import { Args, Flags } from '@oclif/core';
import { TtjCommand } from '../cli/base-command.js';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { runPush } from '../cli/run-push.js';
import type { PushResult } from '../journal/push.js';

export default class Pull extends TtjCommand<PushResult> {
  static override summary = 'Bring JOURNAL up to date with FROM: a push from FROM into JOURNAL.';
  static override description =
    'The first argument is always your journal (as in git). JOURNAL is created when nothing is there; one that diverged from FROM (TTJ_DIVERGED), is a fork of it (TTJ_FORKED) or is ahead of it (TTJ_AHEAD) is refused and left unchanged. See ttj push.';
  static override examples = ['<%= config.bin %> pull /backup/vm.ttj vm.ttj', '<%= config.bin %> pull mirror.ttj vm.ttj --follow --json'];
  static override args = {
    journal: Args.string({ description: 'your journal (directory or URL; created when missing)', required: true }),
    from: Args.string({ description: 'the journal to pull from (directory or URL)', required: true }),
  };
  static override flags = {
    follow: Flags.boolean({ description: 'after catching up, mirror each new commit of FROM as it lands (until SIGINT/SIGTERM)', default: false }),
    'batch-blobs': Flags.integer({ description: 'blobs named per batch before it is cut at the next epoch boundary', default: 8192, min: 1 }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<PushResult> {
    const { args, flags } = await this.parse(Pull);
    return runPush(this, {
      src: args.from,
      dest: args.journal,
      follow: flags.follow,
      batchBlobs: flags['batch-blobs'],
      command: 'ttj pull',
      interactive: this.interactive,
      json: this.jsonEnabled(),
      password: await readPassword(flags['password-file']),
    });
  }
}
