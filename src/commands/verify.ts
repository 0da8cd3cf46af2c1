import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { Progress } from '../cli/progress.js';
import { TtjError } from '../errors.js';
import { Journal } from '../journal/journal.js';
import { loadTrustedKey } from '../journal/signing-key.js';
import { verify, type VerifyReport } from '../journal/verify.js';

export default class Verify extends TtjCommand<VerifyReport> {
  static override summary = 'Check the hash chain, sequence numbers, state roots and (with --deep) every stored blob.';
  static override description = 'Exits 0 only when everything holds; otherwise names the first bad event (seq) with a stable error code.';
  static override examples = ['<%= config.bin %> verify vm.ttj', '<%= config.bin %> verify vm.ttj --deep --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    deep: Flags.boolean({ description: 're-read and re-hash every stored blob', default: false }),
    trust: Flags.string({ description: 'every event must be covered by a signature of this Ed25519 public key (PEM)' }),
    head: Flags.string({ description: 'the journal must extend this head hash published earlier (ttj log --json head.hash)' }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<VerifyReport> {
    const { args, flags } = await this.parse(Verify);
    const trust = flags.trust === undefined ? undefined : await loadTrustedKey(flags.trust);
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    const bar = new Progress('verifying', this.interactive);
    let r: VerifyReport;
    try {
      r = await verify(j, { deep: flags.deep, trust, head: flags.head, onProgress: (_p, d, t) => bar.update(d, t, 'items') });
    } finally {
      bar.done();
      await j.close();
    }
    if (!r.ok) {
      const e = r.error!;
      throw new TtjError(e.code, `verify failed${e.seq !== undefined ? ` at seq ${e.seq}` : ''}: ${e.message}`, { ...e.details, seq: e.seq, report: r });
    }
    const c = r.custody;
    this.log(
      `ok: ${r.events} events, ${r.epochs} epochs, ${r.frames} frames, ${r.keyframes} keyframes` +
        (r.deep ? `, ${r.blobsChecked} blobs (${r.bytesChecked} bytes) re-hashed` : '') +
        (c?.trusted ? `; every event signed by ${c.trusted} (${c.signatures} signatures)` : '') +
        (c?.extends ? `; extends head ${c.extends.hash} (seq ${c.extends.seq})` : ''),
    );
    for (const p of r.pruned ?? []) this.log(`pruned at ${p.time} (event ${p.seq}): ${p.epochs.length} epochs (${p.epochs[0]}..${p.epochs[p.epochs.length - 1]}); the blobs only they needed are gone`);
    return r;
  }
}
