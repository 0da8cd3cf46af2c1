import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { TTJ_VERSION } from './journal/journal.js';
import { nativeInfo } from './native/index.js';

/** `ttj doctor --json`. */
export interface DoctorReport {
  ttj: string;
  node: string;
  platform: string;
  qemu: { found: boolean; path?: string; version?: string; install?: string };
  kvm: { usable: boolean; reason?: string };
  nbdClients: Record<string, boolean>;
  native: { loaded: boolean; [k: string]: unknown };
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** What ttj can use on this machine. */
export async function doctor(): Promise<DoctorReport> {
  const qemuPath = process.env.TTJ_QEMU ?? which('qemu-system-x86_64');
  let version: string | undefined;
  if (qemuPath) {
    const r = spawnSync(qemuPath, ['--version'], { encoding: 'utf8' });
    version = /version (\S+)/.exec(r.stdout ?? '')?.[1];
  }
  let kvm: DoctorReport['kvm'] = { usable: false };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    kvm = { usable: true };
  } catch (e) {
    kvm = { usable: false, reason: (e as Error).message };
  }
  const native = nativeInfo();
  return {
    ttj: TTJ_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    qemu: qemuPath && version ? { found: true, path: qemuPath, version } : { found: false, install: 'apt-get install qemu-system-x86' },
    kvm,
    nbdClients: Object.fromEntries(['qemu-img', 'qemu-io', 'nbdinfo', 'nbdcopy'].map((c) => [c, !!which(c)])),
    native,
  };
}
