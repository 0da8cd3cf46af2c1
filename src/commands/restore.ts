import { Args, Flags } from '@oclif/core';
import { untilStopped } from '../cli/stop-signal.js';
import { passwordFileFlag, readPassword } from '../cli/password.js';
import { TtjCommand } from '../cli/base-command.js';
import { parseDuration } from '../cli/units.js';
import { restore, type RestoreResult } from '../replay/restore.js';

export default class Restore extends TtjCommand<RestoreResult> {
  static override summary = 'Resume the recorded VM in a real QEMU from a POINT (e.g. a video frame).';
  static override description =
    'Folds memory, device state and disks at the POINT, starts QEMU with the recorded configuration and -incoming, migrates the device state in, and lets the VM run on. --fork NEW records the restored VM into a new journal (the original never changes). --detach returns once the VM is up ({pid, qmp} with --json). Extra QEMU arguments go after --.';
  static override strict = false;
  static override examples = [
    '<%= config.bin %> restore vm.ttj --at frame:40',
    '<%= config.bin %> restore vm.ttj --at label:"before upgrade" --paused --detach --json',
    '<%= config.bin %> restore vm.ttj --at epoch:12 --fork vm2.ttj --duration 30s',
  ];
  static override args = { journal: Args.string({ description: 'journal directory', required: true }) };
  static override flags = {
    at: Flags.string({ description: 'POINT to resume from', required: true }),
    fork: Flags.string({ description: 'keep recording into this new journal' }),
    paused: Flags.boolean({ description: 'leave the VM paused', default: false }),
    detach: Flags.boolean({ description: 'return once the VM is up', default: false }),
    qmp: Flags.string({ description: 'QMP socket path' }),
    console: Flags.string({ description: "write the guest's serial console to this file (a VM recorded with --console; without it the output is dropped)" }),
    duration: Flags.string({ description: 'stop the VM after this long' }),
    interval: Flags.string({ description: 'with --fork: epoch interval', default: '500ms' }),
    fps: Flags.integer({ description: 'with --fork: frames per second', default: 10 }),
    'password-file': passwordFileFlag,
  };

  async run(): Promise<RestoreResult> {
    const { args, flags, argv } = await this.parse(Restore);
    return untilStopped(async (signal) => {
      const r = await restore(args.journal, {
        password: await readPassword(flags['password-file']),
        at: flags.at,
        fork: flags.fork,
        paused: flags.paused,
        detach: flags.detach,
        qmpPath: flags.qmp,
        consolePath: flags.console,
        extraArgs: (argv as string[]).slice(1),
        durationMs: flags.duration ? parseDuration(flags.duration, 'duration') : undefined,
        intervalMs: parseDuration(flags.interval, 'interval'),
        fps: flags.fps,
        signal,
        onStart: (vm) => this.logToStderr(`ttj restore: VM ${flags.paused ? 'paused' : 'running'} at ${flags.at} (pid ${vm.proc.pid}, QMP ${vm.qmpPath})`),
      });
      this.log(flags.detach ? `VM up: pid ${r.pid}, QMP ${r.qmp}` : `VM ran from ${r.point} (epoch ${r.epoch})${r.recorded ? `; recorded ${r.recorded.epochs} epochs into ${r.fork}` : ''}`);
      return r;
    });
  }
}
