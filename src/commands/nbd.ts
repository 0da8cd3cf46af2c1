import { Args, Flags } from '@oclif/core';
import { untilStopped } from '../cli/stop-signal.js';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { serveDisk } from '../replay/serve-disk.js';
import { signWithFlag, signingKeyFrom } from '../cli/sign-with-flag.js';

/** `ttj nbd --json` (printed when the server stops). */
export interface NbdOutput {
  journal: string;
  disk: string;
  url: string;
  at?: string;
  readOnly: boolean;
  fork?: string;
  writes: number;
  headSeq?: number;
}

export default class Nbd extends TtjCommand<NbdOutput> {
  static override summary = "Serve a journal's disk over NBD, journaling every write before it is acknowledged.";
  static override description =
    'Live: every WRITE, WRITE_ZEROES and TRIM is appended to the journal before the reply; FUA and FLUSH are fsynced. With --at POINT --read-only: the disk as it was then (instant recovery). With --at POINT --fork NEW: a writable branch into a new journal. Runs until SIGINT or SIGTERM.';
  static override examples = [
    '<%= config.bin %> nbd vm.ttj --disk d0 --socket /tmp/d0.sock   # qemu-img info "nbd+unix:///d0?socket=/tmp/d0.sock"',
    '<%= config.bin %> nbd vm.ttj --disk d0 --at frame:40 --read-only --port 10809',
  ];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    disk: Flags.string({ description: 'disk name (the NBD export name)', required: true }),
    at: Flags.string({ description: 'serve the disk as it was at this POINT' }),
    'read-only': Flags.boolean({ description: 'refuse writes', default: false }),
    fork: Flags.string({ description: 'with --at: write into this new journal (a branch)' }),
    socket: Flags.string({ description: 'unix socket path', exclusive: ['port'] }),
    port: Flags.integer({ description: 'TCP port on --host (0: any free port)' }),
    host: Flags.string({ description: 'TCP host', default: '127.0.0.1' }),
    'sign-with': signWithFlag,
    'password-file': passwordFileFlag,
  };

  async run(): Promise<NbdOutput> {
    const { args, flags } = await this.parse(Nbd);
    const served = await serveDisk(args.journal, {
      password: await readPassword(flags['password-file']),
      disk: flags.disk,
      at: flags.at,
      readOnly: flags['read-only'],
      fork: flags.fork,
      socketPath: flags.socket,
      port: flags.port ?? (flags.socket ? undefined : 10809),
      host: flags.host,
      signWith: await signingKeyFrom(flags['sign-with']),
    });
    this.logToStderr(`ttj nbd: serving ${flags.disk}${flags.at ? ` at ${flags.at}` : ''}${flags['read-only'] ? ' (read-only)' : ''} on ${served.url}`);
    await untilStopped((signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())));
    const headSeq = served.writer?.headSeqNumber;
    await served.close();
    return { journal: args.journal, disk: flags.disk, url: served.url, at: flags.at, readOnly: flags['read-only'], fork: flags.fork, writes: served.device.writes, headSeq };
  }
}
