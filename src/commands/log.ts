import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { Journal } from '../journal/journal.js';
import { log, type LogResult } from '../journal/log.js';

export default class Log extends TtjCommand<LogResult> {
  static override summary = 'List epochs, frames, audio, labels and sizes.';
  static override examples = ['<%= config.bin %> log vm.ttj', '<%= config.bin %> log vm.ttj --since epoch:3 --until frame:20 --json'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    since: Flags.string({ description: 'only entries at or after this POINT' }),
    until: Flags.string({ description: 'only entries at or before this POINT' }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<LogResult> {
    const { args, flags } = await this.parse(Log);
    const j = await Journal.open(args.journal, { password: await readPassword(flags['password-file']) });
    try {
      const r = await log(j, { since: flags.since, until: flags.until });
      if (!this.jsonEnabled()) this.print(r);
      return r;
    } finally {
      await j.close();
    }
  }

  private print(r: LogResult): void {
    const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
    this.log(`journal ${r.journal}: head seq ${r.head.seq}, ${r.head.epoch + 1} epochs, ${r.head.frame + 1} frames, ${mib(r.store.storedBytes)} stored for ${mib(r.store.rawBytes)} of content`);
    for (const d of r.disks) this.log(`disk ${d.disk}: ${mib(d.size)} in ${(d.blockSize ?? r.pageSize) / 1024} KiB blocks, ${d.writes} writes (${d.blocks} blocks), last at seq ${d.lastSeq}`);
    const audio = new Map<number, number>();
    for (const a of r.audio) audio.set(a.epoch, (audio.get(a.epoch) ?? 0) + a.samples / a.sampleRate);
    const frames = new Map<number, number[]>();
    for (const f of r.frames) frames.set(f.epoch, [...(frames.get(f.epoch) ?? []), f.frame]);
    for (const e of r.epochs) {
      const fr = frames.get(e.epoch);
      const frText = fr ? `  frames ${fr[0]}${fr.length > 1 ? `..${fr[fr.length - 1]}` : ''}` : '';
      const lbl = e.labels.length ? `  "${e.labels.join('", "')}"` : '';
      const signer = e.signer ? `  signed ${e.signer.slice(0, 16)}` : '';
      const au = audio.has(e.epoch) ? `  audio ${audio.get(e.epoch)!.toFixed(2)} s` : '';
      const pause = e.pauseUs === undefined ? '' : `  pause ${(e.pauseUs / 1000).toFixed(1)} ms`;
      this.log(
        `epoch ${String(e.epoch).padStart(4)}  seq ${String(e.seq).padStart(6)}  ${e.time}  dirty ${String(e.dirtyPages).padStart(6)}  zero ${String(e.zeroPages).padStart(5)}  disk ${String(e.diskBlocks).padStart(5)}  stored ${mib(e.storedBytes)}${pause}${e.keyframe ? '  keyframe' : ''}${signer}${lbl}${frText}${au}`,
      );
    }
  }
}
