/**
 * How a recorded VM was built. Stored in the journal (a `vm_config` event) so that
 * `ttj restore` builds the same VM: the migration stream of the device state only
 * loads into a QEMU with the same machine, RAM size, devices and ROMs.
 */
export interface VmConfig {
  qemuVersion: string;
  machine: string;
  accel: 'kvm' | 'tcg';
  memorySize: number;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Disks, in drive order (the first boots when there is no kernel). */
  disks: { name: string; interface: 'ide' | 'virtio' }[];
  /** Extra QEMU arguments given after `--`. */
  extraArgs: string[];
}

/** Where a disk's bytes come from when QEMU starts. */
export type DiskSource = { nbd: string } | { file: string };

/** The QEMU command line for a config (without QMP, RAM file, incoming). */
export function qemuArgs(cfg: VmConfig, ramPath: string, disks: Record<string, DiskSource>): string[] {
  const args = [
    '-machine', `${cfg.machine},accel=${cfg.accel},memory-backend=mem`,
    '-m', `${Math.round(cfg.memorySize / 1048576)}M`,
    '-object', `memory-backend-file,id=mem,size=${cfg.memorySize},mem-path=${ramPath},share=on`,
    '-nodefaults', '-no-user-config', '-vga', 'std', '-display', 'none',
  ];
  if (cfg.kernel) args.push('-kernel', cfg.kernel);
  if (cfg.initrd) args.push('-initrd', cfg.initrd);
  if (cfg.append !== undefined) args.push('-append', cfg.append);
  cfg.disks.forEach((d, i) => {
    const src = disks[d.name];
    if (!src) throw new Error(`no source for disk ${d.name}`);
    const file = 'nbd' in src ? src.nbd : src.file;
    if (d.interface === 'virtio') args.push('-drive', `file=${file},format=raw,if=virtio,index=${i},cache=writeback`);
    else args.push('-drive', `file=${file},format=raw,if=ide,index=${i},media=disk,cache=writeback`);
  });
  if (!cfg.kernel && cfg.disks.length) args.push('-boot', 'c');
  args.push(...cfg.extraArgs);
  return args;
}
