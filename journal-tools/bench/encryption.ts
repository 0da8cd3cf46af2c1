/**
 * An encrypted journal against a plain one, on the same images in one run: the append
 * of a whole first epoch (every non-zero page new, so every block sealed) and the fold of
 * a later epoch (every block opened), each step in its own process (ttj-step.js), the fold
 * the median of 3. The ratios compare the work after opening the journal; unlocking the key
 * (scrypt, once per command: a fixed cost, not a throughput) is reported apart.
 *
 * Standalone: `node dist/journal-tools/bench/encryption.js [--size MiB]` prints the figures.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ttjStep, type Step } from './ttj.js';
import { writeEpochImages } from './workload.js';

export interface EncryptionFigures {
  sizeMiB: number;
  /** In-step times (ms) of the first epoch's append and of the fold of the second epoch (median of 3), after opening the journal; bytes the two appends stored. */
  plain: { appendMs: number; foldMs: number; openMs: number; storedBytes: number };
  encrypted: { appendMs: number; foldMs: number; openMs: number; storedBytes: number };
  /** Throughput of the encrypted journal / the plain one (plain time / encrypted time): ≥ 0.8 is the target. */
  ratio: { append: number; fold: number };
  /** What opening an encrypted journal costs more than a plain one (the key unlocked: scrypt), per command. */
  unlockMs: number;
}

/** Appends `images` (a whole first epoch, then a later one) to a plain and an encrypted journal, and folds the later epoch from both. */
export function encryptionFigures(images: string[], scratch: string, sizeMiB: number): EncryptionFigures {
  const run = (tag: string, password: string | undefined) => {
    const journal = join(scratch, `enc-bench-${tag}`);
    // The step processes inherit the environment: the password reaches them as TTJ_PASSWORD.
    const saved = process.env.TTJ_PASSWORD;
    if (password === undefined) delete process.env.TTJ_PASSWORD;
    else process.env.TTJ_PASSWORD = password;
    try {
      const appends: Step[] = images.slice(0, 2).map((img) => ttjStep('append', journal, img));
      const folds = [0, 1, 2].map((i) => {
        const out = join(scratch, `enc-bench-fold-${tag}-${i}`);
        const s = ttjStep('fold', journal, 'epoch:1', out);
        rmSync(out, { recursive: true, force: true });
        return s;
      });
      const storedBytes = appends.reduce((n, s) => n + Number(s.storedBytes ?? 0), 0);
      const after = (s: Step) => s.ms - Number(s.openMs);
      const fold = [...folds].sort((x, y) => after(x) - after(y))[1]!;
      return { appendMs: after(appends[0]!), foldMs: after(fold), openMs: Number(fold.openMs), storedBytes };
    } finally {
      if (saved === undefined) delete process.env.TTJ_PASSWORD;
      else process.env.TTJ_PASSWORD = saved;
      rmSync(journal, { recursive: true, force: true });
    }
  };
  const plain = run('plain', undefined);
  const encrypted = run('encrypted', 'bench password');
  return { sizeMiB, plain, encrypted, ratio: { append: plain.appendMs / encrypted.appendMs, fold: plain.foldMs / encrypted.foldMs }, unlockMs: encrypted.openMs - plain.openMs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--size');
  const size = i > 0 ? Number(process.argv[i + 1]) : 256;
  const scratch = mkdtempSync(join(tmpdir(), 'ttj-enc-bench-'));
  try {
    const imgDir = join(scratch, 'img');
    mkdirSync(imgDir);
    const images = writeEpochImages(imgDir, size, 2, 0.05);
    console.log(JSON.stringify(encryptionFigures(images, scratch, size), null, 2));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
