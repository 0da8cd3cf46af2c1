/** The body of `ttj push` and `ttj pull` (pull is a push with the arguments the other way round). */
import { Journal } from '../journal/journal.js';
import { push, type PushResult } from '../journal/push.js';
import { Progress } from './progress.js';
import { untilStopped } from './stop-signal.js';

/** What the two commands pass. */
export interface RunPushOptions {
  src: string;
  dest: string;
  follow: boolean;
  batchBlobs: number;
  command: string;
  /** Progress may be drawn (a terminal, not --json). */
  interactive: boolean;
  /** --json: nothing but the result on stdout. */
  json: boolean;
  /** The source's password, when it is encrypted (the destination takes its key). */
  password?: string;
}

/** Pushes `src` into `dest`; prints progress on a terminal, the lag while following (not with --json), and a summary. */
export async function runPush(out: { log(msg: string): void }, o: RunPushOptions): Promise<PushResult> {
  const src = await Journal.open(o.src, { password: o.password });
  const bar = new Progress('pushing', o.interactive);
  try {
    // Without --follow a signal ends the process as usual: the destination stays at a batch boundary.
    const run = (signal?: AbortSignal) =>
      push(src, o.dest, {
        follow: o.follow,
        signal,
        batch: { blobs: o.batchBlobs },
        command: o.command,
        onProgress: (p) => bar.update(p.headSeq, p.targetSeq, 'items'),
        onLag: (l) => {
          bar.done();
          if (!o.json) process.stderr.write(`mirrored seq ${l.destinationSeq + 1}..${l.sourceSeq} (${l.seqs} events behind, ${Math.round(l.ms)} ms after the source's commit)\n`);
        },
      });
    const r = o.follow ? await untilStopped(run) : await run();
    bar.done();
    const where = r.commonSeq < 0 ? 'new journal' : `common prefix up to seq ${r.commonSeq}`;
    out.log(
      `${r.destination}: ${where}; sent ${r.events} events and ${r.blobsSent} blobs (${r.bytesSent} bytes), skipped ${r.blobsSkipped} blobs it had (${r.bytesSkipped} bytes); head seq ${r.head.seq}` +
        (r.prunes ? `; ${r.prunes} prune events, after which it removed ${r.collected?.removedBlobs ?? 0} blobs it no longer needs` : '') +
        (r.follow ? `; followed ${r.follow.commits} commits` : ''),
    );
    return r;
  } finally {
    bar.done();
    await src.close();
  }
}
