import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import Append from '../../src/commands/append.js';
import Fold from '../../src/commands/fold.js';
import Init from '../../src/commands/init.js';
import Log from '../../src/commands/log.js';
import Verify from '../../src/commands/verify.js';
import { encodeEventStream } from '../../src/journal/append-events.js';
import { memoryImage, png, sha } from '../helpers/images.js';
import { sha256 } from '../../src/util/hash.js';
import { useTmp } from '../helpers/tmp.js';
import { repoRoot, ttj as runTtj } from '../helpers/run-ttj.js';
import { quietConsole } from '../helpers/quiet-console.js';

const root = repoRoot;
const PS = 4096;
const ttj = (args: string[], input?: Buffer) => runTtj(args, { input });

describe('CLI in-process (Cmd.run)', function () {
  const tmp = useTmp();
  // oclif prints the --json result; keep test output readable.
  quietConsole();

  it('init, append, log, fold and verify return typed results', async () => {
    const J = tmp.path('j');
    const mem = memoryImage(32, PS, 9);
    writeFileSync(tmp.path('m.raw'), mem);
    writeFileSync(tmp.path('f.png'), png(10, 10, 2));
    const init = await Init.run([J, '--json'], root);
    assert.equal(init.pageSize, 4096);
    const a = await Append.run([J, '--memory', tmp.path('m.raw'), '--frame', tmp.path('f.png'), '--label', 'first', '--json'], root);
    assert.deepEqual(a.epochs, [0]);
    assert.deepEqual(a.frames, [0]);
    const l = await Log.run([J, '--json'], root);
    assert.equal(l.head.epoch, 0);
    assert.equal(l.head.frame, 0);
    assert.deepEqual(l.epochs[0]!.labels, ['first']);
    const m = await Fold.run([J, '--at', 'frame:0', '--out', tmp.path('o'), '--json'], root);
    assert.equal(m.epoch, 0);
    assert.equal(sha(readFileSync(tmp.path('o', 'memory.raw'))), sha(mem));
    const v = await Verify.run([J, '--deep', '--json'], root);
    assert.equal(v.ok, true);
  });

  it('rejects with a TtjError carrying the code', async () => {
    await assert.rejects(Fold.run([tmp.path('nothing'), '--out', tmp.path('o'), '--json'], root), (e) => isTtjError(e, ErrorCodes.NOT_A_JOURNAL));
    await assert.rejects(Append.run([tmp.path('j'), '--json'], root), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    await assert.rejects(Append.run([tmp.path('j'), '--disk', 'nofile', '--json'], root), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
  });
});

describe('CLI as a subprocess (exit code + JSON)', function () {
  const tmp = useTmp();

  it('creates disks with the asked block size (64K by default), lists them in log, refuses a bad one with exit 2', () => {
    const J = tmp.path('j');
    writeFileSync(tmp.path('a.img'), Buffer.alloc(256 * 1024, 1));
    writeFileSync(tmp.path('b.img'), Buffer.alloc(256 * 1024, 2));
    const bad = ttj(['append', J, '--disk', `x=${tmp.path('a.img')}`, '--disk-block-size', '3K', '--json']);
    assert.equal(bad.status, 2);
    assert.equal(bad.json.error.code, 'TTJ_BAD_ARGUMENT');
    assert.equal(ttj(['append', J, '--disk', `a=${tmp.path('a.img')}`, '--json']).status, 0);
    assert.equal(ttj(['append', J, '--disk', `b=${tmp.path('b.img')}`, '--disk-block-size', '4K', '--json']).status, 0);
    const l = ttj(['log', J, '--json']);
    const byName = Object.fromEntries(l.json.disks.map((d: { disk: string; blockSize: number }) => [d.disk, d.blockSize]));
    assert.deepEqual(byName, { a: 65536, b: 4096 });
    assert.match(ttj(['log', J]).stdout, /disk b: .* in 4 KiB blocks/);
  });

  it('runs the tour: append creates the journal, log, fold, verify', () => {
    const J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), memoryImage(32, PS, 4));
    writeFileSync(tmp.path('d.img'), Buffer.alloc(8 * PS, 3));
    let r = ttj(['append', J, '--memory', tmp.path('m.raw'), '--disk', `d0=${tmp.path('d.img')}`, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json.epochs, [0]);
    r = ttj(['log', J, '--json']);
    assert.equal(r.status, 0);
    assert.equal(r.json.head.epoch, 0);
    assert.ok(r.json.epochs[0].seq > 0);
    r = ttj(['fold', J, '--at', 'epoch:0', '--out', tmp.path('o'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(tmp.path('o', 'disks', 'd0.raw')));
    r = ttj(['verify', J, '--deep', '--json']);
    assert.equal(r.status, 0);
    assert.equal(r.json.ok, true);
    r = ttj(['log', J]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /epoch +0/);
  });

  it('--version answers (text and --json) and --help lists every command, from the manifest the build writes', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
    let r = ttj(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}`);
    r = ttj(['--version', '--json']);
    assert.deepEqual(r.json, { name: pkg.name, version: pkg.version, platform: `${process.platform}-${process.arch}`, node: process.version });
    const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    const commands = readdirSync(join(root, 'dist', 'src', 'commands'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js'))
      .map((f) => f.slice(0, -3).replaceAll('/', ':'));
    assert.deepEqual(Object.keys(manifest.commands).sort(), commands.sort());
    r = ttj(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const c of commands.filter((c) => !c.includes(':'))) assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'), c);
  });

  it('exits non-zero with a stable code in JSON, and a one-line message without --json', () => {
    const J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), memoryImage(32, PS, 4));
    assert.equal(ttj(['append', J, '--memory', tmp.path('m.raw')]).status, 0);
    const frame = png(8, 8, 1);
    writeFileSync(tmp.path('cut.png'), frame.subarray(0, frame.length - 12)); // no IEND
    const cases: [string[], string, number][] = [
      [['fold', J, '--at', 'epoch:x', '--out', tmp.path('o'), '--json'], ErrorCodes.BAD_POINT, 2],
      [['fold', J, '--at', 'epoch:9', '--out', tmp.path('o'), '--json'], ErrorCodes.POINT_NOT_FOUND, 1],
      [['append', J, '--memory', tmp.path('missing.raw'), '--json'], ErrorCodes.FILE_NOT_FOUND, 1],
      [['log', tmp.path('none'), '--json'], ErrorCodes.NOT_A_JOURNAL, 1],
      [['append', J, '--frame', tmp.path('m.raw'), '--json'], ErrorCodes.NOT_PNG, 1],
      [['append', J, '--frame', tmp.path('cut.png'), '--json'], ErrorCodes.NOT_PNG, 1],
      [['fold', J, '--bogus-flag', '--json'], ErrorCodes.BAD_ARGUMENT, 2],
    ];
    for (const [args, code, status] of cases) {
      const r = ttj(args);
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.equal(r.json?.error?.code, code, `${args.join(' ')}: ${r.stdout}`);
    }
    const r = ttj(['fold', J, '--at', 'epoch:9', '--out', tmp.path('o')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /TTJ_POINT_NOT_FOUND/);
  });

  it('verify exits 3 on a tampered journal, naming the seq', () => {
    const J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), memoryImage(64, PS, 5));
    assert.equal(ttj(['append', J, '--memory', tmp.path('m.raw')]).status, 0);
    const pack = join(J, 'packs', '00000001.pack');
    const b = readFileSync(pack);
    b[b.length - 20] ^= 0x10;
    writeFileSync(pack, b);
    const r = ttj(['verify', J, '--deep', '--json']);
    assert.equal(r.status, 3);
    assert.equal(r.json.error.code, ErrorCodes.CORRUPT_BLOB);
  });

  it('appends a length-delimited event stream from stdin, atomically', () => {
    const J = tmp.path('j');
    const page = Buffer.alloc(PS, 0x5a);
    const addr = sha256(page);
    const stream = encodeEventStream([
      { blob: { data: page } },
      { epochBegin: { epoch: 0 } },
      { memoryLayout: { size: 4 * PS } },
      { pages: { pfns: [1, 3], addrs: Buffer.concat([addr, addr]) } },
      { epochCommit: { epoch: 0 } },
    ]);
    let r = ttj(['append', J, '--events', '-', '--json'], stream);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(r.json.epochs, [0]);
    r = ttj(['fold', J, '--out', tmp.path('o'), '--json']);
    assert.equal(r.status, 0);
    const want = Buffer.alloc(4 * PS);
    page.copy(want, PS);
    page.copy(want, 3 * PS);
    assert.ok(readFileSync(tmp.path('o', 'memory.raw')).equals(want));
    // A stream naming a blob it does not carry, or an unfinished epoch: refused, nothing appended.
    const head = ttj(['log', J, '--json']).json.head.seq;
    const missing = encodeEventStream([{ epochBegin: { epoch: 1 } }, { pages: { pfns: [0], addrs: sha256(Buffer.from('x')) } }, { epochCommit: { epoch: 1 } }]);
    r = ttj(['append', J, '--events', '-', '--json'], missing);
    assert.equal(r.json.error.code, ErrorCodes.CORRUPT_BLOB);
    const open = encodeEventStream([{ epochBegin: { epoch: 1 } }]);
    r = ttj(['append', J, '--events', '-', '--json'], open);
    assert.equal(r.json.error.code, ErrorCodes.BAD_EVENT_STREAM);
    r = ttj(['append', J, '--events', '-', '--json'], Buffer.from([0xff, 0xff, 0xff, 0x0f, 1, 2]));
    assert.equal(r.json.error.code, ErrorCodes.BAD_EVENT_STREAM);
    assert.equal(ttj(['log', J, '--json']).json.head.seq, head);
  });
});
