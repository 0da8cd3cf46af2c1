import { spawn } from 'node:child_process';
import { Args, Flags } from '@oclif/core';
import { TtjCommand } from '../cli/base-command.js';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { untilStopped } from '../cli/stop-signal.js';
import { loadTrustedKey } from '../journal/signing-key.js';
import { startUiServer } from '../ui/server.js';

/** `ttj ui --json`: printed once the server listens. */
export interface UiResult {
  url: string;
  port: number;
  pid: number;
  /** Where the page's Fold and Export buttons write. */
  out: string;
}

export default class Ui extends TtjCommand<UiResult | undefined> {
  static override summary = 'Serve the web timeline of a journal on 127.0.0.1 (scrub frames, see what changed, restore a point).';
  static override description =
    'Serves a page on 127.0.0.1 (a random port unless --port) with a random token in its URL, checked on every request. It runs until SIGINT or SIGTERM; with --json it prints {url, port, pid} once listening. docs/ui.md describes the page and its JSON API.';
  static override examples = ['<%= config.bin %> ui vm.ttj', '<%= config.bin %> ui vm.ttj --port 8080 --open', '<%= config.bin %> ui vm.ttj --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    port: Flags.integer({ description: 'TCP port on 127.0.0.1 (default: a random free one)', min: 0, max: 65535 }),
    out: Flags.string({ description: "where the page's Fold and Export buttons write, a directory per job (default: JOURNAL-ui-out beside the journal)", helpValue: 'DIR' }),
    open: Flags.boolean({ description: 'open the page in the desktop browser (xdg-open)', default: false }),
    'password-file': passwordFileFlag,
    trust: Flags.string({ description: "a trusted Ed25519 public key (PEM, as ttj key generate writes it): the page's verification checks the journal's signatures against it" }),
  };

  /** Serves until stopped; with --json the result is printed once listening (so nothing is returned to print again at the end). */
  async run(): Promise<UiResult | undefined> {
    const { args, flags } = await this.parse(Ui);
    const trust = flags.trust === undefined ? undefined : await loadTrustedKey(flags.trust);
    const server = await startUiServer(args.journal, { port: flags.port, out: flags.out, password: await readPassword(flags['password-file']), trust });
    const result: UiResult = { url: server.url, port: server.port, pid: process.pid, out: server.out };
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(result)}\n`);
    else this.log(`ttj ui: ${server.url}  (Ctrl-C stops it; Fold and Export write into ${server.out})`);
    if (flags.open)
      spawn('xdg-open', [server.url], { stdio: 'ignore', detached: true })
        .on('error', () => this.logToStderr('ttj ui: could not run xdg-open; open the URL above'))
        .unref();
    try {
      await untilStopped((signal) => new Promise((r) => signal.addEventListener('abort', () => r(undefined))));
    } finally {
      await server.close();
    }
    return undefined;
  }
}
