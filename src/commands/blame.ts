import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { hexdump } from '../cli/hexdump.js';
import { parseOffset } from '../cli/units.js';
import { ErrorCodes, TtjError } from '../errors.js';
import { blame, type BlameResult, type BlameTarget } from '../journal/blame.js';
import { entryAt, type EntryAt } from '../journal/entry-at.js';
import { Journal } from '../journal/journal.js';

/** `ttj blame --json`: the changes, and with `--show` the content at `--at` (its bytes in hex). */
export interface BlameOutput extends BlameResult {
  show?: Omit<EntryAt, 'data'> & { hex: string };
}

const hex = (n: number) => `0x${n.toString(16)}`;

export default class Blame extends TtjCommand<BlameOutput> {
  static override summary = 'Every change of one memory page or disk block through the history, oldest first.';
  static override description =
    'Give --page PFN, --phys ADDRESS (the page holding it) or --disk NAME --offset N (the block holding it). Lists each change: seq, epoch, time, the nearest frame, the new content address (or zero). One walk over the events. --show prints the content at --at (default head).';
  static override examples = ['<%= config.bin %> blame vm.ttj --phys 0x1f000', '<%= config.bin %> blame vm.ttj --disk d0 --offset 1M --show --at label:before', '<%= config.bin %> blame vm.ttj --page 31 --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    page: Flags.string({ description: 'page frame number (decimal or 0x hex)', exactlyOne: ['page', 'phys', 'disk'] }),
    phys: Flags.string({ description: 'guest physical address (0x hex or decimal): its page', exactlyOne: ['page', 'phys', 'disk'] }),
    disk: Flags.string({ description: 'disk NAME (with --offset)', exactlyOne: ['page', 'phys', 'disk'], dependsOn: ['offset'] }),
    offset: Flags.string({ description: 'byte offset on the disk (decimal, 0x hex or a SIZE like 64K): its block', dependsOn: ['disk'] }),
    show: Flags.boolean({ description: 'print the content at --at as a hex dump' }),
    at: Flags.string({ description: 'POINT for --show (default head)', dependsOn: ['show'] }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<BlameOutput> {
    const { args, flags } = await this.parse(Blame);
    let target: BlameTarget;
    if (flags.page !== undefined) target = { page: parseOffset(flags.page, 'page') };
    else if (flags.phys !== undefined) target = { phys: parseOffset(flags.phys, 'phys') };
    else if (flags.disk !== undefined && flags.offset !== undefined) target = { disk: flags.disk, offset: parseOffset(flags.offset, 'offset') };
    else throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'give --page, --phys, or --disk with --offset');
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    try {
      const r: BlameOutput = await blame(j, target);
      if (flags.show) {
        const { data, ...at } = await entryAt(j, r.target, flags.at ?? 'head');
        r.show = { ...at, hex: data.toString('hex') };
      }
      if (!this.jsonEnabled()) this.print(r);
      return r;
    } finally {
      await j.close();
    }
  }

  private print(r: BlameOutput): void {
    const t = r.target;
    const what = t.kind === 'page' ? `page ${hex(t.pfn)} of memory (physical ${hex(t.phys)}..${hex(t.phys + t.size - 1)})` : `block ${t.block} of disk ${t.disk} (bytes ${hex(t.offset)}..${hex(t.offset + t.size - 1)})`;
    this.log(`${what}: ${r.changes.length} change${r.changes.length === 1 ? '' : 's'}`);
    if (r.changes.length) this.log(`${'seq'.padStart(8)}  ${'epoch'.padStart(6)}  ${'time'.padEnd(24)}  ${'frame'.padStart(6)}  content`);
    for (const c of r.changes) {
      this.log(
        `${String(c.seq).padStart(8)}  ${(c.epoch === null ? '-' : String(c.epoch)).padStart(6)}  ${c.time.padEnd(24)}  ${(c.frame === undefined ? '-' : String(c.frame)).padStart(6)}  ${c.zero ? 'zero' : c.addr}`,
      );
    }
    if (r.show) {
      const s = r.show;
      this.log(`\nat ${s.point} (epoch ${s.epoch}, seq ${s.seq}): ${s.zero ? 'zero' : s.addr}`);
      for (const line of hexdump(Buffer.from(s.hex, 'hex'), t.kind === 'page' ? t.phys : t.offset)) this.log(line);
    }
  }
}
