import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { Progress } from '../cli/progress.js';
import { grep, type GrepMoment, type GrepPlace, type GrepResult } from '../journal/grep.js';
import { Journal } from '../journal/journal.js';

export default class Grep extends TtjCommand<GrepResult> {
  static override summary = 'Find every place a byte string was in memory or on a disk, and when.';
  static override description =
    'Searches each distinct stored page and disk block once, then maps the matches to memory addresses (pfn) and disk offsets, with the stretches of history (first and last seen: seq, epoch, time, nearest frame) in which the bytes were there. Matches across page and block boundaries are found. POINTs are head, epoch:N, frame:N, seq:N, time:ISO-8601 or label:TEXT.';
  static override examples = ['<%= config.bin %> grep vm.ttj --text "BEGIN RSA PRIVATE KEY"', '<%= config.bin %> grep vm.ttj --hex 4d5a9000 --disk sda --since epoch:10 --until label:infected --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    text: Flags.string({ description: 'the bytes to look for, as UTF-8 text' }),
    hex: Flags.string({ description: 'the bytes to look for, as hex digits (e.g. 4d5a9000)' }),
    since: Flags.string({ description: 'only the history at or after this POINT' }),
    until: Flags.string({ description: 'only the history at or before this POINT (default: head)' }),
    memory: Flags.boolean({ description: 'only search the memory' }),
    disk: Flags.string({ description: 'only search this disk' }),
    verify: Flags.boolean({ description: 'also re-hash every blob searched against its address (as verify --deep does)' }),
    limit: Flags.integer({ description: 'report at most this many places', default: 1000, min: 1 }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<GrepResult> {
    const { args, flags } = await this.parse(Grep);
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    const bar = new Progress('searching', this.interactive);
    try {
      const r = await grep(j, { ...flags, onProgress: (d, t) => bar.update(d, t, 'items') });
      bar.done();
      if (!this.jsonEnabled()) this.print(r);
      return r;
    } finally {
      bar.done();
      await j.close();
    }
  }

  private print(r: GrepResult): void {
    const gb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    this.log(
      `${r.totalPlaces} place${r.totalPlaces === 1 ? '' : 's'} held the ${r.pattern.length} bytes ${r.pattern.hex} between seq ${r.window.since} and seq ${r.window.until} (searched ${r.searched.blobs} distinct blobs, ${gb(r.searched.bytes)})`,
    );
    if (!r.places.length) return;
    const rows: string[][] = [['WHERE', 'OFFSET', 'PAGE+OFF', 'EPOCHS', 'FIRST SEEN', 'LAST SEEN', 'REMOVED']];
    for (const p of r.places) {
      for (const s of p.spans) {
        const epochs = s.epochs ? (s.epochs.first === s.epochs.last ? `${s.epochs.first}` : `${s.epochs.first}..${s.epochs.last}`) : '-';
        rows.push([where(p), `0x${p.offset.toString(16)}`, `${p.page}+0x${p.pageOffset.toString(16)}${p.crosses ? ' (crosses)' : ''}`, epochs, moment(s.first), moment(s.last), s.removed ? `seq ${s.removed.seq}` : '-']);
      }
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
    for (const row of rows)
      this.log(
        row
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      );
    if (r.truncated) this.log(`(${r.totalPlaces - r.places.length} more places not shown: raise --limit)`);
  }
}

const where = (p: GrepPlace) => (p.where === 'memory' ? 'memory' : `disk ${p.disk}`);
const moment = (m: GrepMoment) => `seq ${m.seq} ${m.time}${m.frame !== undefined ? ` frame ${m.frame}` : ''}`;
