/** The machine a benchmark ran on: CPU model, cores, memory, kernel, and the versions of every tool measured. */
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { installed, version } from './peers.js';

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  borg?: string;
  restic?: string;
  zstd?: string;
}

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
    const flags = /^flags\s*:\s*(.+)$/m.exec(info)?.[1]?.split(' ') ?? [];
    const notable = ['avx2', 'avx512f', 'sha_ni'].filter((f) => flags.includes(f));
    return notable.length ? `${model} (${notable.join(', ')})` : model;
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  return {
    nproc: availableParallelism(),
    cpu: cpuModel(),
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    node: process.version,
    borg: installed('borg') ? version('borg') : undefined,
    restic: installed('restic') ? version('restic', 'version') : undefined,
    zstd: installed('zstd') ? version('zstd', '-V') : undefined,
  };
}
