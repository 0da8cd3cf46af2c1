import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { sideBySide } from '../cli/hexdump.js';
import { diffWithStates, type DiffPoint, type DiffResult } from '../journal/diff.js';
import { DEFAULT_HEX_RANGES, diffHex, type HexRange } from '../journal/diff-hex.js';
import { Journal } from '../journal/journal.js';

/** `ttj diff --json`: the diff, and with `--hex` the bytes of the first changed ranges. */
export interface DiffOutput extends DiffResult {
  hex?: HexRange[];
}

const hex = (n: number) => `0x${n.toString(16)}`;
const bytes = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB` : `${n} B`);
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export default class Diff extends TtjCommand<DiffOutput> {
  static override summary = 'What changed between two POINTs: memory pages, disk blocks, device state, and the frames and labels between.';
  static override description =
    'Compares the content addresses of the two states (a page that changed and changed back is no difference), skipping equal parts of the page tables by their Merkle chunk hashes; no state is written. --hex shows the changed bytes, A beside B.';
  static override examples = ['<%= config.bin %> diff vm.ttj epoch:3 epoch:4', '<%= config.bin %> diff vm.ttj label:before label:after --hex --limit 4', '<%= config.bin %> diff vm.ttj frame:10 head --json'];
  static override args = {
    journal: Args.string({ description: 'journal directory', required: true }),
    a: Args.string({ description: 'POINT A (from)', required: true }),
    b: Args.string({ description: 'POINT B (to)', required: true }),
  };
  static override flags = {
    hex: Flags.boolean({ description: 'show the bytes of the changed ranges, A beside B (the rows of 16 bytes that differ)' }),
    limit: Flags.integer({ description: 'ranges listed, and shown with --hex', default: DEFAULT_HEX_RANGES, min: 1 }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<DiffOutput> {
    const { args, flags } = await this.parse(Diff);
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    try {
      const { result, states } = await diffWithStates(j, { a: args.a, b: args.b });
      const out: DiffOutput = flags.hex ? { ...result, hex: await diffHex(j, result, states, flags.limit) } : result;
      if (!this.jsonEnabled()) this.print(out, flags.limit);
      return out;
    } finally {
      await j.close();
    }
  }

  private print(d: DiffOutput, limit: number): void {
    const point = (p: DiffPoint) => `${p.point} (epoch ${p.epoch}, seq ${p.seq})`;
    this.log(`${point(d.a)} -> ${point(d.b)}`);
    const list = <T>(items: T[], line: (x: T) => string) => {
      for (const x of items.slice(0, limit)) this.log(`  ${line(x)}`);
      if (items.length > limit) this.log(`  ... ${items.length - limit} more (--limit, --json lists all)`);
    };
    const m = d.memory;
    if (!m) this.log('memory: none');
    else if (!m.changedPages) this.log('memory: unchanged');
    else {
      this.log(`memory: ${plural(m.changedPages, 'page')} changed (${bytes(m.changedBytes)}; ${m.fromZero} were zero, ${m.toZero} became zero) in ${plural(m.ranges.length, 'range')}`);
      list(m.ranges, (r) => `pfn ${hex(r.pfn)}${r.pages > 1 ? `..${hex(r.pfn + r.pages - 1)}` : ''}  ${plural(r.pages, 'page')}  ${bytes(r.bytes)}`);
    }
    for (const k of d.disks) {
      const only = k.onlyIn ? ` (only at ${k.onlyIn === 'a' ? 'A' : 'B'})` : '';
      if (!k.changedBlocks) {
        this.log(`disk ${k.name}${only}: unchanged`);
        continue;
      }
      this.log(`disk ${k.name}${only} (${bytes(k.blockSize)} blocks): ${plural(k.changedBlocks, 'block')} changed (${bytes(k.changedBytes)}) in ${plural(k.ranges.length, 'range')}`);
      list(k.ranges, (r) => `bytes ${hex(r.offset)}..${hex(r.offset + r.length - 1)}  ${plural(r.blocks, 'block')}  ${bytes(r.length)}`);
    }
    const dev = (s?: { length: number }) => (s ? `${s.length} bytes` : 'none');
    this.log(`device: ${d.device.changed ? `changed (${dev(d.device.a)} -> ${dev(d.device.b)})` : d.device.a ? 'unchanged' : 'none'}`);
    const f = d.frames;
    this.log(`frames between: ${f.length ? `${f[0]!.frame}..${f[f.length - 1]!.frame} (${f.length})` : 'none'}`);
    this.log(`labels between: ${d.labels.length ? d.labels.map((l) => `"${l.text}" (epoch ${l.epoch})`).join(', ') : 'none'}`);
    for (const r of d.hex ?? []) {
      const where = r.where === 'memory' ? 'memory' : `disk ${r.where.disk}`;
      this.log(`\n${where} ${hex(r.offset)}..${hex(r.offset + r.length - 1)}: A (left), B (right), the rows that differ`);
      for (const line of sideBySide(r.rows)) this.log(line);
      if (r.more) this.log('...');
    }
  }
}
