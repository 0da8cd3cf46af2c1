import { randomBytes } from 'node:crypto';

/** Random pieces of random lengths that add up to `total`. */
export function randomPieces(total: number): Buffer[] {
  const out: Buffer[] = [];
  for (let left = total; left > 0;) {
    const n = Math.min(left, 1 + Math.floor(Math.random() * 70000));
    out.push(randomBytes(n));
    left -= n;
  }
  return out;
}
