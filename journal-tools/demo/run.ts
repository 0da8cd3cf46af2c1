/**
 * `npm run demo`: records a real Linux VM (Debian's cloud kernel + a busybox
 * initramfs whose init counts "tick N" on the serial console and dirties memory)
 * with `ttj record` for ~20 s, shows the timeline, restores it from a middle video
 * frame with `ttj restore`, and shows the restored VM's console continuing from
 * there. Then `ttj verify --deep`, and the recording's web timeline: a `ttj ui` server
 * started detached (the demo ends; the page stays), its URL printed last.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLinuxGuest } from '../guests/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'run.js');
const work = join(root, '.demo');
const seconds = Number(process.env.TTJ_DEMO_SECONDS ?? 20);

function ttj(args: string[], quiet = false): string {
  process.stdout.write(`\n$ ttj ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (!quiet) process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`ttj ${args[0]} failed with exit ${r.status}`);
  return r.stdout;
}

const ticks = (file: string) => (existsSync(file) ? (readFileSync(file, 'utf8').match(/tick \d+/g) ?? []) : []);

/** The `ttj ui` a previous demo left running: {url, port, pid} (its --json line). */
const uiInfo = join(work, 'ui.json');
function stopPreviousUi(): void {
  try {
    const { pid } = JSON.parse(readFileSync(uiInfo, 'utf8')) as { pid: number };
    process.kill(pid, 'SIGTERM');
  } catch {
    // none, or gone already
  }
}

/** Starts `ttj ui J --json` detached (it outlives the demo) and returns its {url, pid} once it listens. */
function startUiDetached(journal: string): { url: string; pid: number } {
  const out = openSync(uiInfo, 'w');
  const child = spawn(process.execPath, [bin, 'ui', journal, '--json'], { detached: true, stdio: ['ignore', out, 'ignore'] });
  child.unref();
  closeSync(out);
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 300; i++) {
    const line = readFileSync(uiInfo, 'utf8').split('\n')[0]!;
    if (line.endsWith('}')) return JSON.parse(line) as { url: string; pid: number };
    Atomics.wait(wait, 0, 0, 100);
  }
  throw new Error('ttj ui did not start within 30 s');
}

stopPreviousUi();
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
console.log('Building the Linux guest from Debian packages (linux-image-cloud-amd64, busybox-static)...');
const { kernel, initrd } = ensureLinuxGuest();
const J = join(work, 'linux.ttj');
// Under this sandbox's nested KVM the Linux kernel does not boot, so the demo uses TCG
// unless TTJ_ACCEL=kvm asks otherwise (the boot-sector tests use KVM when usable).
const accel = process.env.TTJ_ACCEL === 'kvm' ? 'kvm' : 'tcg';
console.log(`\nRecording a 256 MiB Linux VM for ${seconds} s (${accel}): an epoch every 500 ms, 10 frames per second.`);
ttj([
  'record',
  J,
  '--memory',
  '256M',
  '--kernel',
  kernel,
  '--initrd',
  initrd,
  '--append',
  'console=ttyS0 quiet',
  '--accel',
  accel,
  '--interval',
  '500ms',
  '--fps',
  '10',
  '--duration',
  `${seconds}s`,
  '--console',
  join(work, 'record-console.txt'),
]);
const recorded = ticks(join(work, 'record-console.txt'));
console.log(`(the recorded VM's console went up to "${recorded[recorded.length - 1] ?? 'nothing'}")`);

const log = JSON.parse(ttj(['log', J, '--json'], true));
console.log(`${log.epochs.length} epochs, ${log.frames.length} frames, ${(log.store.storedBytes / 1048576).toFixed(1)} MiB stored; the last epochs:`);
for (const e of log.epochs.slice(-4)) console.log(`  epoch ${e.epoch}  ${e.time}  dirty pages ${e.dirtyPages}  stored ${(e.storedBytes / 1024).toFixed(0)} KiB${e.keyframe ? '  keyframe' : ''}`);

const frame = log.frames[Math.floor(log.frames.length * 0.6)].frame;
const out = join(work, `frame-${frame}`);
ttj(['fold', J, '--at', `frame:${frame}`, '--out', out]);
console.log(`(the screen at frame ${frame} is ${join(out, 'frame.png')})`);

console.log(`\nTravelling back: restoring the VM at frame ${frame} and letting it run for 4 s.`);
ttj(['restore', J, '--at', `frame:${frame}`, '--console', join(work, 'restore-console.txt'), '--duration', '4s']);
const restored = ticks(join(work, 'restore-console.txt'));
console.log(`The restored VM's console picks up at "${restored[0] ?? '?'}" and runs on to "${restored[restored.length - 1] ?? '?'}"`);
console.log(`(the original run had reached "${recorded[recorded.length - 1] ?? '?'}": the VM went back in time and continued from frame ${frame}).`);

ttj(['verify', J, '--deep']);

const ui = startUiDetached(J);
console.log(`\nThe recording's web timeline (ttj ui ${J}; docs/ui.md), running in the background as pid ${ui.pid}:`);
console.log(`  ${ui.url}`);
console.log(`(stop it with: kill ${ui.pid}; the next npm run demo stops it too)`);
