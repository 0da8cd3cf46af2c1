import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

/** Fails naming the first byte where the file at `path` differs from `model`. */
export async function assertFileEquals(path: string, model: Buffer, what: string): Promise<void> {
  const disk = await readFile(path);
  if (!disk.equals(model)) {
    let i = 0;
    while (disk[i] === model[i]) i++;
    assert.fail(`${what}: disk differs from the model first at byte ${i}`);
  }
}
