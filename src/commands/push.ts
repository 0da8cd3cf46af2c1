import { Args, Flags } from '@oclif/core';
import { TtjCommand } from '../cli/base-command.js';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { runPush } from '../cli/run-push.js';
import type { PushResult } from '../journal/push.js';

export default class Push extends TtjCommand<PushResult> {
  static override summary = 'Make DEST a copy of SRC, sending only the events and blobs it lacks.';
  static override description =
    'The two journals agree on the common prefix of their chains (by seq and hash); the missing events are appended to DEST byte for byte in batches of whole epochs, each with only the blobs DEST does not hold. DEST is created when nothing is there. A DEST that diverged from SRC (TTJ_DIVERGED), is a fork of it (TTJ_FORKED) or is ahead of it (TTJ_AHEAD) is refused and left unchanged. An interrupted push leaves DEST at a batch boundary; running it again continues. With --follow, each new commit of SRC is mirrored as it lands, until SIGINT or SIGTERM.';
  static override examples = ['<%= config.bin %> push vm.ttj /backup/vm.ttj', '<%= config.bin %> push vm.ttj /backup/vm.ttj --follow'];
  static override args = {
    src: Args.string({ description: 'source journal (directory or URL)', required: true }),
    dest: Args.string({ description: 'destination journal (directory or URL; created when missing)', required: true }),
  };
  static override flags = {
    follow: Flags.boolean({ description: 'after catching up, mirror each new commit as it lands (until SIGINT/SIGTERM)', default: false }),
    'batch-blobs': Flags.integer({ description: 'blobs named per batch before it is cut at the next epoch boundary', default: 8192, min: 1 }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<PushResult> {
    const { args, flags } = await this.parse(Push);
    return runPush(this, {
      src: args.src,
      dest: args.dest,
      follow: flags.follow,
      batchBlobs: flags['batch-blobs'],
      command: 'ttj push',
      interactive: this.interactive,
      json: this.jsonEnabled(),
      password: await readPassword(flags['password-file']),
    });
  }
}
