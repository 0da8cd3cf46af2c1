/** CPU time of waited-for child processes, from /proc/self/stat (cutime + cstime). */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const HZ = 100;

/** User + system CPU ms of all children this process has waited for (0 where /proc is missing). */
export function childrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[13]) + Number(f[14])) * 1000) / HZ;
  } catch {
    return 0;
  }
}
