import { Args, Flags } from '@oclif/core';
import { ErrorCodes, TtjError } from '../errors.js';
import { untilStopped } from '../cli/stop-signal.js';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand, parseNamed } from '../cli/base-command.js';
import { parseDuration, parseSize } from '../cli/units.js';
import { record, type RecordResult } from '../capture/record.js';
import { signWithFlag, signingKeyFrom } from '../cli/sign-with-flag.js';

export default class Record extends TtjCommand<RecordResult> {
  static override summary = 'Start a QEMU VM and record it: an epoch every interval, frames between, every disk write.';
  static override description =
    'Guest RAM lives in a shared file; disks are served from the journal over NBD. Ends at --duration, when the guest powers off, or on SIGINT/SIGTERM (the epoch in flight is committed, QEMU stopped, exit 0). Extra QEMU arguments go after --.';
  static override strict = false;
  static override examples = [
    '<%= config.bin %> record vm.ttj --memory 256M --kernel vmlinuz --initrd initrd.gz --append "console=ttyS0" --interval 500ms --fps 10 --duration 60s',
    '<%= config.bin %> record vm.ttj --memory 64M --disk boot=guest.img --duration 20s -- -smp 2',
  ];
  static override args = { journal: Args.string({ description: 'journal directory (created if missing)', required: true }) };
  static override flags = {
    memory: Flags.string({ description: 'guest RAM (e.g. 256M)' }),
    disk: Flags.string({ description: 'NAME=FILE disk image (imported on first use)', multiple: true }),
    kernel: Flags.string({ description: 'Linux kernel to boot' }),
    initrd: Flags.string({ description: 'initrd for --kernel' }),
    append: Flags.string({ description: 'kernel command line' }),
    interval: Flags.string({ description: 'epoch interval (50ms to 24h)', default: '500ms' }),
    fps: Flags.integer({ description: 'frames per second between epochs (0: one per epoch; at most 30)', default: 10 }),
    duration: Flags.string({ description: 'stop after this long (default: until SIGINT)' }),
    console: Flags.string({ description: "write the guest's serial console to this file" }),
    accel: Flags.string({ description: 'kvm or tcg (default: kvm when /dev/kvm is usable)', options: ['kvm', 'tcg'] }),
    qmp: Flags.string({ description: 'QMP socket path' }),
    'sign-with': signWithFlag,
    'keep-within': Flags.string({ description: 'prune epochs older than DURATION (before the newest one) while recording; labelled epochs stay', helpValue: 'DURATION' }),
    'max-size': Flags.string({ description: 'prune the oldest epochs (labelled ones too) while the journal holds more than SIZE of blobs', helpValue: 'SIZE' }),
    'warn-size': Flags.string({ description: 'warn once the journal holds more than SIZE of blobs (default: 80% of --max-size)', helpValue: 'SIZE' }),
    encrypt: Flags.boolean({ description: 'when the journal is created: encrypt it with the password (TTJ_PASSWORD or --password-file)', default: false }),
    'password-file': passwordFileFlag,
    audio: Flags.boolean({ description: "record the guest's sound (the PC speaker; sound devices wired to audiodev ttjsnd) as audio events" }),
  };

  async run(): Promise<RecordResult> {
    const { args, flags, argv } = await this.parse(Record);
    const extra = (argv as string[]).slice(1);
    const signWith = await signingKeyFrom(flags['sign-with']);
    if (flags['warn-size'] !== undefined && flags['max-size'] === undefined) throw new TtjError(ErrorCodes.BAD_ARGUMENT, '--warn-size needs --max-size');
    return untilStopped(async (signal) => {
      const r = await record(args.journal, {
        password: await readPassword(flags['password-file']),
        encrypt: flags.encrypt,
        signWith,
        audio: flags.audio,
        memorySize: flags.memory ? parseSize(flags.memory, 'memory') : undefined,
        disks: parseNamed(flags.disk, 'disk'),
        kernel: flags.kernel,
        initrd: flags.initrd,
        append: flags.append,
        intervalMs: parseDuration(flags.interval, 'interval'),
        fps: flags.fps,
        durationMs: flags.duration ? parseDuration(flags.duration, 'duration') : undefined,
        consolePath: flags.console,
        accel: flags.accel as 'kvm' | 'tcg' | undefined,
        qmpPath: flags.qmp,
        extraArgs: extra,
        signal,
        window: {
          keepWithinMs: flags['keep-within'] !== undefined ? parseDuration(flags['keep-within'], 'keep-within') : undefined,
          maxSize: flags['max-size'] !== undefined ? parseSize(flags['max-size'], 'max-size') : undefined,
          warnSize: flags['warn-size'] !== undefined ? parseSize(flags['warn-size'], 'warn-size') : undefined,
          onWarn: (msg) => process.stderr.write(`\nwarning: ${msg}\n`),
        },
        onEpoch: (e) => {
          if (this.interactive) process.stderr.write(`\repoch ${e.epoch}: paused ${e.pauseMs.toFixed(1)} ms, ${e.dirtyPages} dirty pages\x1b[K`);
        },
      });
      if (this.interactive) process.stderr.write('\n');
      const sound = r.audio ? `, ${r.audio.seconds.toFixed(1)} s of sound` : '';
      this.log(
        `recorded ${r.epochs} epochs and ${r.frames} frames${sound} (${(r.bytesStored / 1048576).toFixed(1)} MiB stored); VM pause per epoch p50 ${r.pauseMs.p50.toFixed(1)} ms, p99 ${r.pauseMs.p99.toFixed(1)} ms, max ${r.pauseMs.max.toFixed(1)} ms; stopped by ${r.stoppedBy}`,
      );
      return r;
    });
  }
}
