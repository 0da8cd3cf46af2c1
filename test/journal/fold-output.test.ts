import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError, type ErrorCode } from '../../src/errors.js';
import { appendImages } from '../../src/journal/append-images.js';
import { fold } from '../../src/journal/fold.js';
import { Journal } from '../../src/journal/journal.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { memoryImage, png } from '../helpers/images.js';
import { ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';

const PS = 4096;
const mode = (p: string) => statSync(p).mode & 0o777;

/** All files and directories under `dir`, relative, sorted. */
function tree(dir: string, sub = ''): string[] {
  return readdirSync(join(dir, sub), { withFileTypes: true })
    .flatMap((e) => {
      const rel = join(sub, e.name);
      return e.isDirectory() ? [rel + '/', ...tree(dir, rel)] : [rel];
    })
    .sort();
}

describe('fold output: modes, stale files, bad directories', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let J: string;

  /** Epoch 0 (memory, disk d, device, a frame), epoch 1 (memory only changes). */
  beforeEach(async () => {
    J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), memoryImage(32, PS, 1));
    writeFileSync(tmp.path('d.img'), Buffer.alloc(64 * 1024, 3));
    const w = await JournalWriter.openWriter(J);
    try {
      await appendImages(w, { memory: tmp.path('m.raw'), disks: [{ name: 'd', path: tmp.path('d.img') }], device: Buffer.from('device'), frames: [png(4, 4, 1)] });
      writeFileSync(tmp.path('m.raw'), memoryImage(32, PS, 2));
      await appendImages(w, { memory: tmp.path('m.raw') });
    } finally {
      await w.close();
    }
  });

  async function foldAt(at: string, out: string) {
    const j = await Journal.open(J);
    try {
      return await fold(j, { at, out });
    } finally {
      await j.close();
    }
  }

  async function refused(out: string, code: ErrorCode) {
    await assert.rejects(foldAt('head', out), (e) => isTtjError(e, code));
  }

  it('creates files 0600 and the directories it creates 0700 (guest memory holds secrets)', async () => {
    const old = process.umask(0o022);
    try {
      const out = tmp.path('a', 'b', 'o');
      await foldAt('frame:0', out);
      for (const d of ['a', 'a/b', 'a/b/o', 'a/b/o/disks']) assert.equal(mode(tmp.path(d)), 0o700, d);
      const files = ['memory.raw', 'disks/d.raw', 'device.bin', 'frame.png', 'manifest.json'];
      assert.deepEqual(tree(out), ['device.bin', 'disks/', 'disks/d.raw', 'frame.png', 'manifest.json', 'memory.raw']);
      for (const f of files) assert.equal(mode(join(out, f)), 0o600, f);
    } finally {
      process.umask(old);
    }
  });

  it("a re-fold leaves exactly this fold's outputs: an earlier fold's frame.png, a gone disk and leftover partial files are removed, other files kept", async () => {
    const out = tmp.path('o');
    await foldAt('frame:0', out);
    assert.ok(tree(out).includes('frame.png'));
    // What else may be there: an earlier fold's disk, a killed fold's partial file, the user's own file.
    writeFileSync(join(out, 'disks', 'gone.raw'), 'x');
    writeFileSync(join(out, 'memory.raw.partial'), 'x');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    mkdirSync(join(out, 'mine'));
    const m = await foldAt('epoch:1', out);
    assert.equal(m.frameImage, undefined);
    assert.deepEqual(tree(out), ['device.bin', 'disks/', 'disks/d.raw', 'manifest.json', 'memory.raw', 'mine/', 'notes.txt']);
    assert.ok(readFileSync(join(out, 'memory.raw')).equals(memoryImage(32, PS, 2)));
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  });

  it('an empty output path is BAD_ARGUMENT, nothing written (not even into the current directory)', async () => {
    const cwd = process.cwd();
    mkdirSync(tmp.path('cwd'));
    process.chdir(tmp.path('cwd'));
    try {
      await refused('', ErrorCodes.BAD_ARGUMENT);
    } finally {
      process.chdir(cwd);
    }
    assert.deepEqual(readdirSync(tmp.path('cwd')), []);
  });

  it('an output directory that cannot be created (/proc/x) fails at once, not hangs', async () => {
    await refused('/proc/ttj-fold-test/x', ErrorCodes.FILE_NOT_FOUND);
    await refused('/proc/ttj-fold-test', ErrorCodes.FILE_NOT_FOUND);
  });

  it('ttj fold: exit code and JSON code for --out "" and --out /proc/x (within a time limit: it used to hang)', () => {
    const cwd = tmp.path('cwd');
    mkdirSync(cwd);
    const empty = ttj(['fold', J, '--out', '', '--json'], { cwd, timeoutMs: 60000 });
    assert.equal(empty.status, 2, empty.stdout + empty.stderr);
    assert.equal(empty.json?.error?.code, ErrorCodes.BAD_ARGUMENT);
    assert.deepEqual(readdirSync(cwd), []);
    const proc = ttj(['fold', J, '--out', '/proc/x', '--json'], { cwd, timeoutMs: 60000 });
    assert.equal(proc.status, 1, proc.stdout + proc.stderr);
    assert.equal(proc.json?.error?.code, ErrorCodes.FILE_NOT_FOUND);
  });
});
