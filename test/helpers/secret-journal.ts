/** Journals whose guest wrote a known marker (encryption tests: it must appear in no stored byte). */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendImages } from '../../src/journal/append-images.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { memoryImage, randomPage, rng } from './images.js';

const PS = 4096;
/** The password of the tests' encrypted journals. */
export const PW = 'correct horse battery staple';
/** What the guest wrote: no file or table of an encrypted journal may hold it. */
export const MARKER = Buffer.from('TTJ-SECRET-MARKER-7f3a9c');
/** The text of a label of the first epoch: no file or table of an encrypted journal may hold it (nor its hex, the plain index key). */
export const LABEL = 'TTJ-LABEL-MARKER-c41d';
/** {@link LABEL} and its hex form, as a scan looks for them. */
export const LABEL_FORMS = [Buffer.from(LABEL), Buffer.from(Buffer.from(LABEL).toString('hex'))];

/** Guest images holding the marker: in text pages (compressed blocks), random pages (stored blocks), a disk and the device state. */
export function secretImages(dir: string, seed: number): { memory: string; disk: string; device: string; randomPageHash: Buffer } {
  const mem = memoryImage(256, PS, seed);
  const r = rng(seed + 1);
  for (let p = 0; p < 256; p += 7) MARKER.copy(mem, p * PS + 100);
  const rp = mem.subarray(200 * PS, 201 * PS);
  randomPage(rp, r);
  MARKER.copy(rp, 1000);
  const disk = Buffer.alloc(1024 * 1024);
  for (let o = 0; o < disk.length; o += 64 * 1024) MARKER.copy(disk, o + 17);
  const paths = { memory: join(dir, `mem-${seed}.raw`), disk: join(dir, `disk-${seed}.img`), device: join(dir, `dev-${seed}.bin`) };
  writeFileSync(paths.memory, mem);
  writeFileSync(paths.disk, disk);
  writeFileSync(paths.device, Buffer.concat([Buffer.from('device state '), MARKER]));
  return { ...paths, randomPageHash: createHash('sha256').update(rp).digest() };
}

/** Appends two epochs of the secret images to `j` (created, encrypted when `encrypt`), the first labelled {@link LABEL}. */
export async function recordSecrets(j: string, dir: string, opts: { encrypt: boolean }): Promise<{ memory: string; randomPageHash: Buffer }> {
  const w = await JournalWriter.openWriter(j, { encrypt: opts.encrypt, password: opts.encrypt ? PW : undefined });
  let last!: ReturnType<typeof secretImages>;
  try {
    for (const seed of [1, 2]) {
      last = secretImages(dir, seed);
      await appendImages(w, { memory: last.memory, disks: [{ name: 'd0', path: last.disk }], device: last.device, label: seed === 1 ? LABEL : undefined });
    }
  } finally {
    await w.close();
  }
  return last;
}
