import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCodes } from '../../src/errors.js';
import { exitCodeFor } from '../../src/cli/base-command.js';
import { memoryImage, sha } from '../helpers/images.js';
import { mountReadOnly, treeDigest, userCanRunTtj } from '../helpers/mounts.js';
import { ttjBin, ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';

const execFileP = promisify(execFile);
const PS = 4096;
const DISK = 1024 * 1024;

/** A journal of two epochs (memory and a disk) made by the CLI; returns the images of the last one. */
function makeJournal(tmp: { path(...p: string[]): string }, J: string): { mem: Buffer; disk: Buffer } {
  let mem = memoryImage(64, PS, 1);
  let disk = Buffer.alloc(DISK, 0x11);
  for (let e = 0; e < 2; e++) {
    mem = memoryImage(64, PS, 1 + e);
    disk = Buffer.alloc(DISK, 0x11 + e);
    writeFileSync(tmp.path('m.raw'), mem);
    writeFileSync(tmp.path('d.img'), disk);
    const r = ttj(['append', J, '--memory', tmp.path('m.raw'), '--disk', `d0=${tmp.path('d.img')}`, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
  return { mem, disk };
}

/** log, verify --deep and fold of `J` (as `user`) all succeed and fold the last epoch's images. */
function assertReads(J: string, out: string, want: { mem: Buffer; disk: Buffer }, user?: string): void {
  const log = ttj(['log', J, '--json'], { user });
  assert.equal(log.status, 0, log.stdout + log.stderr);
  assert.equal(log.json.head.epoch, 1);
  const v = ttj(['verify', J, '--deep', '--json'], { user });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.equal(v.json.ok, true);
  const f = ttj(['fold', J, '--at', 'head', '--out', out, '--json'], { user });
  assert.equal(f.status, 0, f.stdout + f.stderr);
  assert.equal(sha(readFileSync(join(out, 'memory.raw'))), sha(want.mem));
  assert.equal(sha(readFileSync(join(out, 'disks', 'd0.raw'))), sha(want.disk));
}

/** No private index copy is left in the temp directory. */
function indexCopies(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('ttj-index-'));
}

/** Serves the head of disk d0 read-only with `ttj nbd` (as `user`) and reads it back with qemu-io. */
async function assertNbdReadOnly(J: string, sock: string, disk: Buffer, user?: string): Promise<void> {
  const argv = [process.execPath, ttjBin, 'nbd', J, '--disk', 'd0', '--at', 'head', '--read-only', '--socket', sock];
  const child = user ? spawn('runuser', ['-u', user, '--', ...argv], { stdio: 'ignore' }) : spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  try {
    for (let i = 0; i < 150 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(sock), 'ttj nbd serves');
    const r = await execFileP('qemu-io', ['-f', 'raw', '-r', '-c', `read -P 0x${disk[0]!.toString(16)} 0 ${DISK}`, `nbd+unix:///d0?socket=${sock}`], { encoding: 'utf8' });
    assert.doesNotMatch(r.stdout + r.stderr, /failed/i, r.stdout + r.stderr);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('reading a journal this process cannot write @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('on a read-only bind mount: log, verify, fold and ttj nbd --read-only work, nothing is written, and append is TTJ_READ_ONLY (exit 6)', async () => {
    const J = tmp.path('j');
    const want = makeJournal(tmp, J);
    const before = treeDigest(J);
    const copiesBefore = indexCopies().length;
    const umount = mountReadOnly(J, tmp.path('ro'));
    try {
      const RO = tmp.path('ro');
      assertReads(RO, tmp.path('out'), want);
      await assertNbdReadOnly(RO, tmp.path('s.sock'), want.disk);
      writeFileSync(tmp.path('m.raw'), memoryImage(64, PS, 9));
      const a = ttj(['append', RO, '--memory', tmp.path('m.raw'), '--json']);
      assert.equal(a.json?.error?.code, ErrorCodes.READ_ONLY, a.stdout + a.stderr);
      assert.equal(a.status, exitCodeFor(ErrorCodes.READ_ONLY));
      assert.notEqual(a.status, 3);
    } finally {
      umount();
    }
    assert.deepEqual(treeDigest(J), before, 'the journal is byte for byte as it was');
    assert.equal(indexCopies().length, copiesBefore, 'the private index copies are removed');
  });

  it('owned by another user: log, verify, fold and ttj nbd --read-only work as nobody; append is TTJ_PERMISSION', async function () {
    if (!userCanRunTtj('nobody')) this.skip(); // a checkout only root may enter
    const J = tmp.path('j');
    const want = makeJournal(tmp, J);
    // Readable, not writable, by others (a journal is 0700/0600 when made).
    chmodSync(tmp.dir, 0o755);
    const walk = (d: string) => {
      chmodSync(d, 0o755);
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else chmodSync(p, 0o644);
      }
    };
    walk(J);
    const before = treeDigest(J);
    // Where nobody may write: the fold output and the NBD socket.
    const outDir = tmp.path('nobody');
    mkdirSync(outDir);
    chmodSync(outDir, 0o777);
    assertReads(J, join(outDir, 'o'), want, 'nobody');
    await assertNbdReadOnly(J, join(outDir, 's.sock'), want.disk, 'nobody');
    const a = ttj(['append', J, '--memory', tmp.path('m.raw'), '--json'], { user: 'nobody' });
    assert.equal(a.json?.error?.code, ErrorCodes.PERMISSION, a.stdout + a.stderr);
    assert.equal(a.status, exitCodeFor(ErrorCodes.PERMISSION));
    assert.deepEqual(treeDigest(J), before, 'the journal is byte for byte as it was');
    // A journal nobody may not read at all is TTJ_PERMISSION, not "not a journal".
    chmodSync(J, 0o700);
    const l = ttj(['log', J, '--json'], { user: 'nobody' });
    assert.equal(l.json?.error?.code, ErrorCodes.PERMISSION, l.stdout + l.stderr);
  });

  it('a new journal is the owner’s only: files 0600, directories 0700', () => {
    const J = tmp.path('j');
    makeJournal(tmp, J);
    const modes: Record<string, string> = {};
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        const st = statSync(p);
        modes[p.slice(J.length)] = (st.mode & 0o777).toString(8);
        if (st.isDirectory()) walk(p);
      }
    };
    modes['/'] = (statSync(J).mode & 0o777).toString(8);
    walk(J);
    for (const [p, m] of Object.entries(modes)) {
      const isDir = statSync(join(J, p)).isDirectory();
      assert.equal(m, isDir ? '700' : '600', `${p} is ${m}`);
    }
    assert.ok(modes['/index/CURRENT'] && modes['/packs/00000001.pack'], JSON.stringify(modes));
  });

  it('a journal made with wider modes keeps them: what an append adds is as readable as the rest', () => {
    const J = tmp.path('j');
    makeJournal(tmp, J);
    const walk = (d: string, f: (p: string, dir: boolean) => void) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        const dir = statSync(p).isDirectory();
        f(p, dir);
        if (dir) walk(p, f);
      }
    };
    // As journals were made before (umask 022).
    chmodSync(J, 0o755);
    walk(J, (p, dir) => chmodSync(p, dir ? 0o755 : 0o644));
    writeFileSync(tmp.path('m.raw'), memoryImage(64, PS, 7));
    assert.equal(ttj(['append', J, '--memory', tmp.path('m.raw'), '--json']).status, 0);
    assert.ok(existsSync(join(J, 'packs', '00000002.pack')));
    walk(J, (p, dir) => assert.equal((statSync(p).mode & 0o777).toString(8), dir ? '755' : '644', p));
  });
});
