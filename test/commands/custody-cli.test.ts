import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import Append from '../../src/commands/append.js';
import KeyGenerate from '../../src/commands/key/generate.js';
import Log from '../../src/commands/log.js';
import Verify from '../../src/commands/verify.js';
import { dirty, memoryImage } from '../helpers/images.js';
import { repoRoot, ttj } from '../helpers/run-ttj.js';
import { useTmp } from '../helpers/tmp.js';
import { quietConsole } from '../helpers/quiet-console.js';

const PS = 4096;

describe('ttj key generate, --sign-with, verify --trust/--head (CLI)', function () {
  const tmp = useTmp();
  let mem: Buffer;
  const image = (seed: number) => {
    dirty(mem, PS, 4, seed);
    writeFileSync(tmp.path('m.raw'), mem);
    return tmp.path('m.raw');
  };
  beforeEach(() => {
    mem = memoryImage(32, PS, 5);
  });

  describe('in-process', function () {
    quietConsole();

    it('generates a key, signs appends, and verify --trust/--head and log return typed results', async () => {
      const k = await KeyGenerate.run(['--out', tmp.path('k'), '--json'], repoRoot);
      assert.match(k.fingerprint, /^[0-9a-f]{64}$/);
      assert.equal(k.publicKey, tmp.path('k.pub'));
      await assert.rejects(KeyGenerate.run(['--out', tmp.path('k'), '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
      const J = tmp.path('j');
      await Append.run([J, '--memory', image(1), '--sign-with', tmp.path('k'), '--json'], repoRoot);
      const l = await Log.run([J, '--json'], repoRoot);
      assert.equal(l.epochs[0]!.signer, k.fingerprint);
      await Append.run([J, '--memory', image(2), '--label', 'two', '--sign-with', tmp.path('k'), '--json'], repoRoot);
      const v = await Verify.run([J, '--trust', tmp.path('k.pub'), '--head', l.head.hash, '--json'], repoRoot);
      assert.equal(v.ok, true);
      assert.equal(v.custody!.trusted, k.fingerprint);
      assert.deepEqual(v.custody!.extends, { seq: l.head.seq, hash: l.head.hash });
      await assert.rejects(Verify.run([J, '--trust', tmp.path('nothing.pub'), '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.FILE_NOT_FOUND));
      await assert.rejects(Append.run([J, '--memory', image(3), '--sign-with', tmp.path('k.pub'), '--json'], repoRoot), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    });
  });

  describe('as a subprocess', function () {
    it('exits 0 for a signed journal; 3 with TTJ_BAD_SIGNATURE naming the first unsigned seq, or TTJ_HEAD_NOT_FOUND', () => {
      const k = ttj(['key', 'generate', '--out', tmp.path('k'), '--json']);
      assert.equal(k.status, 0, k.stderr);
      assert.equal(statSync(tmp.path('k')).mode & 0o777, 0o600);
      const again = ttj(['key', 'generate', '--out', tmp.path('k'), '--json']);
      assert.equal(again.status, 2);
      assert.equal(again.json.error.code, ErrorCodes.BAD_ARGUMENT);
      const J = tmp.path('j');
      assert.equal(ttj(['append', J, '--memory', image(1), '--sign-with', tmp.path('k')]).status, 0);
      const head = ttj(['log', J, '--json']).json.head;
      const ok = ttj(['verify', J, '--trust', tmp.path('k.pub'), '--head', head.hash, '--json']);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.json.custody.trusted, k.json.fingerprint);
      const text = ttj(['log', J]);
      assert.match(text.stdout, new RegExp(`signed ${k.json.fingerprint.slice(0, 16)}`));
      // An append without the key: the journal is no longer signed from there on.
      assert.equal(ttj(['append', J, '--memory', image(2)]).status, 0);
      const bad = ttj(['verify', J, '--trust', tmp.path('k.pub'), '--json']);
      assert.equal(bad.status, 3);
      assert.equal(bad.json.error.code, ErrorCodes.BAD_SIGNATURE);
      assert.equal(bad.json.error.seq, head.seq + 1);
      assert.equal(bad.json.error.trusted, k.json.fingerprint);
      const gone = ttj(['verify', J, '--head', 'ab'.repeat(32), '--json']);
      assert.equal(gone.status, 3);
      assert.equal(gone.json.error.code, ErrorCodes.HEAD_NOT_FOUND);
      assert.equal(gone.json.error.hash, 'ab'.repeat(32));
      const extends_ = ttj(['verify', J, '--head', head.hash]);
      assert.equal(extends_.status, 0, extends_.stderr);
      assert.match(extends_.stdout, new RegExp(`extends head ${head.hash} \\(seq ${head.seq}\\)`));
    });
  });
});
