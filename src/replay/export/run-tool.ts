import { spawn } from 'node:child_process';
import { ErrorCodes, TtjError } from '../../errors.js';

/** The Debian package of each tool an export runs. */
const PACKAGES: Record<string, string> = { 'qemu-img': 'qemu-utils', ffmpeg: 'ffmpeg', ffprobe: 'ffmpeg' };

/** How much of a tool's stderr an error keeps. */
const STDERR_TAIL = 2000;

/**
 * Runs an external tool (`qemu-img`, `ffmpeg`) to its end without blocking the event
 * loop; resolves with its stdout.
 * @throws TtjError TOOL_FAILED when it is missing, is killed or exits non-zero (with its stderr's tail).
 */
export function runTool(tool: string, args: string[], opts: { input?: Buffer } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-STDERR_TAIL)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const install = PACKAGES[tool];
      const missing = e.code === 'ENOENT';
      const message = missing ? `${tool} is not installed${install ? ` (apt-get install ${install})` : ''}` : `${tool} did not start: ${e.message}`;
      reject(new TtjError(ErrorCodes.TOOL_FAILED, message, { tool, args, exitCode: null, install: missing ? install : undefined }, { cause: e }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new TtjError(ErrorCodes.TOOL_FAILED, `${tool} ${signal ? `was killed (${signal})` : `exited with ${code}`}: ${err.trim().split('\n').slice(-3).join(' ')}`, { tool, args, exitCode: code, stderr: err }));
    });
    if (opts.input) child.stdin!.end(opts.input);
  });
}
