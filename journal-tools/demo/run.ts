/**
 * The image-based part of `npm run demo`: a synthetic guest (memory with a counter,
 * a disk, device state and frames showing the counter) recorded epoch by epoch with
 * `ttj append`, then `ttj log`, a fold at a middle frame, and `ttj verify --deep`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { createHash } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'run.js');
const work = join(root, '.demo', 'images');
const PS = 4096;

function ttj(...args: string[]): string {
  process.stdout.write(`\n$ ttj ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`ttj ${args[0]} failed with exit ${r.status}`);
  return r.stdout;
}

function crc32(b: Buffer): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A 64x16 grey PNG with `n` drawn as a bar code, so each frame differs. */
function frame(n: number): Buffer {
  const w = 64;
  const h = 16;
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = (n >> (x >> 2)) & 1 ? 255 : 30;
  const chunk = (t: string, d: Buffer) => {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(d.length);
    const td = Buffer.concat([Buffer.from(t), d]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc32(td));
    return Buffer.concat([l, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const J = join(work, 'vm.ttj');
const mem = Buffer.alloc(4096 * PS); // a 16 MiB guest
const disk = Buffer.alloc(1024 * PS);
let seed = 1;
const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0);
for (let p = 0; p < 1500; p++) for (let i = 0; i < PS; i += 4) mem.writeUInt32LE(rand(), p * PS + i);
console.log('Recording a synthetic 16 MiB guest: 8 epochs, 2 frames each (images, as any hypervisor could give them).');
let counter = 0;
const memSums: string[] = [];
for (let e = 0; e < 8; e++) {
  for (let k = 0; k < 60; k++) mem.writeUInt32LE(rand(), (rand() % 4096) * PS + (rand() % 1024) * 4);
  mem.writeUInt32LE(++counter, 0x1000);
  disk.write(`epoch ${e} wrote this block\n`, (e * 13 % 1024) * PS);
  writeFileSync(join(work, 'mem.raw'), mem);
  writeFileSync(join(work, 'disk0.img'), disk);
  writeFileSync(join(work, 'dev.bin'), Buffer.from(`device state at epoch ${e}`.padEnd(600, '.')));
  const frames = [0, 1].map((f) => {
    const p = join(work, `f${e}-${f}.png`);
    writeFileSync(p, frame(e * 2 + f));
    return p;
  });
  memSums.push(createHash('sha256').update(mem).digest('hex'));
  const args = ['append', J, '--memory', join(work, 'mem.raw'), '--disk', `disk0=${join(work, 'disk0.img')}`, '--device', join(work, 'dev.bin')];
  for (const f of frames) args.push('--frame', f);
  if (e === 3) args.push('--label', 'before upgrade');
  ttj(...args);
}
ttj('log', J);
const out = join(work, 'at-frame-7');
ttj('fold', J, '--at', 'frame:7', '--out', out);
const folded = readFileSync(join(out, 'memory.raw'));
console.log(`\nframe 7 is bound to epoch 3; the folded memory's counter is ${folded.readUInt32LE(0x1000)} and its SHA-256 ${createHash('sha256').update(folded).digest('hex') === memSums[3] ? 'equals' : 'DIFFERS FROM'} the image appended at epoch 3.`);
ttj('fold', J, '--at', 'label:before upgrade', '--out', join(work, 'before-upgrade'));
ttj('verify', J, '--deep');
