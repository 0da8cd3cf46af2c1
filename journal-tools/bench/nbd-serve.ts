/** NBD servers (ttj nbd, qemu-nbd) run by the benchmarks as child processes on unix sockets. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Starts a server (`args`) and waits for its unix socket `sock`. */
export async function serve(args: string[], sock: string): Promise<ChildProcess> {
  rmSync(sock, { force: true });
  const c = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
  await waitFor(sock);
  return c;
}

/** Stops a server started by {@link serve} and waits for it to exit. */
export function stopChild(c: ChildProcess): Promise<void> {
  return new Promise<void>((r) => {
    c.on('exit', () => r());
    c.kill('SIGTERM');
  });
}
