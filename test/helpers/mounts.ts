/** File systems for the store's failure tests: a small tmpfs, a read-only bind mount, filling a disk, and a digest of a tree to show nothing changed. */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, statfsSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ttj } from './run-ttj.js';

/** Mounts a tmpfs of `bytes` at `dir` (created); returns the unmount. */
export function mountTmpfs(dir: string, bytes: number): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}

/** Bind-mounts `src` read-only at `dir` (created); returns the unmount. */
export function mountReadOnly(src: string, dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['--bind', src, dir]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
  } catch (e) {
    execFileSync('umount', [dir]);
    throw e;
  }
  return () => execFileSync('umount', ['-l', dir]);
}

/**
 * Fills the file system of `dir` with the file `dir/NAME` until at most `leave` bytes
 * are free (all of it with leave 0: written until the file system refuses).
 */
export function fillDisk(path: string, leave = 0): void {
  const fd = openSync(path, 'a');
  try {
    const chunk = Buffer.alloc(64 * 1024, 0xee);
    for (;;) {
      const free = statfsSync(dirname(path)).bavail * statfsSync(dirname(path)).bsize;
      const want = Math.min(chunk.length, free - leave);
      if (want < 4096 && leave > 0) return;
      try {
        writeSync(fd, chunk, 0, Math.max(want, 4096));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Every file under `dir` with its size and SHA-256, and every directory: to show that nothing changed. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out[relative(dir, p) + '/'] = 'dir';
        walk(p);
      } else out[relative(dir, p)] = `${st.size}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

/** True when `user` can run this checkout's CLI (not the case in a checkout only root may enter). */
export function userCanRunTtj(user: string): boolean {
  return ttj(['--version'], { user }).status === 0;
}
