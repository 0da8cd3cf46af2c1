import { readFile } from 'node:fs/promises';
import { Args, Flags } from '@oclif/core';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand, parseNamed } from '../cli/base-command.js';
import { Progress } from '../cli/progress.js';
import { parseSize } from '../cli/units.js';
import { ErrorCodes, TtjError, toTtjError } from '../errors.js';
import { appendEventStream } from '../journal/append-events.js';
import { appendImages } from '../journal/append-images.js';
import { JournalWriter } from '../journal/writer.js';
import { signWithFlag, signingKeyFrom } from '../cli/sign-with-flag.js';

/** `ttj append --json`. */
export interface AppendOutput {
  journal: string;
  firstSeq: number;
  lastSeq: number;
  epochs: number[];
  frames: number[];
  dirtyPages?: number;
  zeroPages?: number;
  diskBlocks?: number;
  newBlobs: number;
  newBytes: number;
  storedBytes: number;
}

export default class Append extends TtjCommand<AppendOutput> {
  static override summary = 'Append one epoch from images, or a stream of protobuf events.';
  static override description = 'Finds the pages and blocks that changed since the head by hashing and stores only those. Frames follow the epoch and are bound to it. Creates the journal if it does not exist.';
  static override examples = ['<%= config.bin %> append vm.ttj --memory mem.raw --disk d0=disk0.img --device dev.bin --frame a.png --label "before upgrade"', '<%= config.bin %> append vm.ttj --events events.bin'];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    memory: Flags.string({ description: 'raw guest RAM image' }),
    disk: Flags.string({ description: 'NAME=FILE raw disk image', multiple: true }),
    'disk-block-size': Flags.string({ description: 'block size of disks this append creates (e.g. 4K, 64K; default 64K, or less when the size asks)' }),
    device: Flags.string({ description: 'device state file' }),
    frame: Flags.string({ description: 'PNG frame (after the epoch, bound to it)', multiple: true }),
    label: Flags.string({ description: 'label for the epoch' }),
    events: Flags.string({ description: 'length-delimited protobuf events (FILE or - for stdin)', exclusive: ['memory', 'disk', 'device', 'frame', 'label'] }),
    'page-size': Flags.integer({ description: 'page size when the journal is created', default: 4096 }),
    'sign-with': signWithFlag,
    encrypt: Flags.boolean({ description: 'when the journal is created: encrypt it with the password (TTJ_PASSWORD or --password-file)', default: false }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<AppendOutput> {
    const { args, flags } = await this.parse(Append);
    const disks = parseNamed(flags.disk, 'disk');
    let stream: Buffer | undefined;
    if (flags.events !== undefined) {
      try {
        stream = flags.events === '-' ? await readStdin() : await readFile(flags.events);
      } catch (e) {
        throw toTtjError(e, { path: flags.events });
      }
    } else if (!flags.memory && !disks.length && !flags.device && !flags.frame?.length && !flags.label) {
      throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'nothing to append: give --memory, --disk, --device, --frame, --label or --events');
    }
    const signWith = await signingKeyFrom(flags['sign-with']);
    const password = await readPassword(flags['password-file']);
    const w = await JournalWriter.openWriter(args.journal, { create: true, pageSize: flags['page-size'], command: 'ttj append', signWith, password, encrypt: flags.encrypt });
    const bar = new Progress('scanning', this.interactive);
    try {
      if (stream) {
        const r = await appendEventStream(w, stream);
        const { firstSeq, lastSeq, newBlobs, newBytes, storedBytes } = r;
        const out: AppendOutput = { journal: args.journal, firstSeq, lastSeq, epochs: r.epochs.map((e) => e.epoch), frames: r.frames.map((f) => f.frame), newBlobs, newBytes, storedBytes };
        this.log(`appended events ${r.firstSeq}..${r.lastSeq} (${r.epochs.length} epochs, ${r.frames.length} frames)`);
        return out;
      }
      const diskBlockSize = flags['disk-block-size'] === undefined ? undefined : parseSize(flags['disk-block-size'], 'disk-block-size');
      const r = await appendImages(w, { memory: flags.memory, disks, device: flags.device, frames: flags.frame, label: flags.label, diskBlockSize, onProgress: (d, t) => bar.update(d, t) });
      bar.done();
      const out: AppendOutput = {
        journal: args.journal,
        firstSeq: r.firstSeq,
        lastSeq: r.lastSeq,
        epochs: r.epochs.map((e) => e.epoch),
        frames: r.frames.map((f) => f.frame),
        dirtyPages: r.dirtyPages,
        zeroPages: r.zeroPages,
        diskBlocks: r.diskBlocks,
        newBlobs: r.newBlobs,
        newBytes: r.newBytes,
        storedBytes: r.storedBytes,
      };
      const what = r.epoch !== undefined ? `epoch ${r.epoch}: ${r.dirtyPages} dirty pages (${r.zeroPages} zeroed), ${r.diskBlocks} disk blocks, ` : '';
      this.log(`${what}${r.frames.length} frames; stored ${r.newBlobs} new blobs, ${r.storedBytes} bytes (seq ${r.firstSeq}..${r.lastSeq})`);
      return out;
    } finally {
      bar.done();
      await w.close();
    }
  }
}

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
