#!/usr/bin/env node
// The ttj command line (oclif). Errors are reported by the commands themselves
// (TtjError with a stable code); here only their exit code is kept.
import { spawn } from 'node:child_process';

// The long-running servers (nbd, record) move hundreds of MB/s through Buffers. With
// V8's small initial heap they run a full garbage collection every few MB promoted
// (~15% of their throughput); they run in a Node started with a larger initial heap
// (a GC threshold, not memory taken), and with 8 libuv worker threads instead of 4
// (direct disk reads and writes, hashing and LevelDB share them; more reads in flight
// keep the disk busy), unless UV_THREADPOOL_SIZE is set. This process forwards
// signals and the exit.
const SERVERS = new Set(['nbd', 'record']);
const argv = process.argv.slice(2);

// `ttj --version` answers without loading oclif (most of a command's start-up time is
// loading modules, docs/benchmarks.md "CLI start"); the text is oclif's.
if (argv[0] === '--version' && (argv.length === 1 || (argv.length === 2 && argv[1] === '--json'))) {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const version = { name: pkg.name, version: pkg.version, platform: `${process.platform}-${process.arch}`, node: process.version };
  console.log(argv[1] === '--json' ? JSON.stringify(version) : `${pkg.name}/${pkg.version} ${version.platform} node-${process.version}`);
  process.exit(0);
}

const HEAP_FLAG = '--initial-heap-size=256';
const reexec = SERVERS.has(argv[0]) && !process.execArgv.some((a) => a.startsWith('--initial-heap-size')) && process.env.TTJ_NO_REEXEC !== '1';

if (reexec) {
  // The IPC channel tells the child when this process is gone (even by SIGKILL): it then stops.
  const child = spawn(process.execPath, [HEAP_FLAG, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { UV_THREADPOOL_SIZE: '8', ...process.env, TTJ_REEXEC_CHILD: '1' },
  });
  // A terminal's Ctrl-C reaches both processes; the server treats repeats as one.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    console.error(`ttj: cannot start ${process.execPath}: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  if (process.env.TTJ_REEXEC_CHILD === '1' && process.channel) {
    delete process.env.TTJ_REEXEC_CHILD;
    process.channel.unref();
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  const { flush, handle, run } = await import('@oclif/core');
  try {
    await run(argv, import.meta.url);
    await flush();
  } catch (e) {
    if (typeof e?.code === 'string' && e.code.startsWith('TTJ_')) {
      if (!process.exitCode) process.exitCode = 1;
    } else {
      await handle(e);
    }
  }
}
