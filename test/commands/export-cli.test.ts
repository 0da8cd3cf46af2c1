import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { ErrorCodes } from '../../src/errors.js';
import Export from '../../src/commands/export.js';
import { fileSha, qemuImgInfo } from '../helpers/export-checks.js';
import { memoryImage, png } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { repoRoot, ttj } from '../helpers/run-ttj.js';

const PS = 4096;

describe('ttj export (CLI)', function () {
  this.timeout(60000);
  const tmp = useTmp();
  let J: string;
  beforeEach(() => {
    J = tmp.path('j');
    writeFileSync(tmp.path('m.raw'), memoryImage(40, PS, 7));
    writeFileSync(tmp.path('d.img'), Buffer.alloc(16 * PS, 3));
    writeFileSync(tmp.path('f.png'), png(12, 9, 1));
    const r = ttj(['append', J, '--memory', tmp.path('m.raw'), '--disk', `d0=${tmp.path('d.img')}`, '--frame', tmp.path('f.png'), '--json']);
    assert.equal(r.status, 0, r.stderr);
  });

  it('in-process: returns the manifest it writes', async () => {
    const log = console.log;
    console.log = () => undefined;
    try {
      const m = await Export.run([J, '--at', 'epoch:0', '--out', tmp.path('o'), '--memory-format', 'raw', '--disk-format', 'vmdk', '--json'], repoRoot);
      assert.deepEqual(JSON.parse(readFileSync(tmp.path('o', 'manifest.json'), 'utf8')), JSON.parse(JSON.stringify(m)));
      assert.equal(qemuImgInfo(tmp.path('o', 'disks', 'd0.vmdk')).format, 'vmdk');
      assert.ok(readFileSync(tmp.path('o', 'memory.raw')).equals(readFileSync(tmp.path('m.raw'))));
    } finally {
      console.log = log;
    }
  });

  it('as a subprocess: --json prints the manifest, exit 0; failures exit non-zero with stable codes', () => {
    const r = ttj(['export', J, '--out', tmp.path('o'), '--frames', 'webm', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json, JSON.parse(readFileSync(tmp.path('o', 'manifest.json'), 'utf8')));
    assert.equal(r.json.memory.format, 'elf');
    assert.equal(r.json.disks[0].format, 'qcow2');
    for (const f of r.json.files as { file: string; sha256: string }[]) assert.equal(fileSha(tmp.path('o', f.file)), f.sha256);
    assert.equal(ttj(['log', J, '--json']).json.head.hash, r.json.chainHash);
    assert.match(ttj(['export', J, '--out', tmp.path('p'), '--memory-format', 'raw']).stdout, /exported head \(epoch 0, seq \d+\) into .*: memory.raw, disks\/d0.qcow2/);

    const cases: [string[], string, number][] = [
      [['export', J, '--out', tmp.path('x'), '--disk-format', 'vdi', '--json'], ErrorCodes.BAD_ARGUMENT, 2],
      [['export', J, '--out', tmp.path('x'), '--memory-format', 'core', '--json'], ErrorCodes.BAD_ARGUMENT, 2],
      [['export', J, '--out', tmp.path('x'), '--since', 'frame:0', '--json'], ErrorCodes.BAD_ARGUMENT, 2],
      [['export', J, '--json'], ErrorCodes.BAD_ARGUMENT, 2],
      [['export', J, '--at', 'epoch:x', '--out', tmp.path('x'), '--json'], ErrorCodes.BAD_POINT, 2],
      [['export', J, '--at', 'epoch:5', '--out', tmp.path('x'), '--json'], ErrorCodes.POINT_NOT_FOUND, 1],
      [['export', tmp.path('none'), '--out', tmp.path('x'), '--json'], ErrorCodes.NOT_A_JOURNAL, 1],
    ];
    for (const [args, code, status] of cases) {
      const x = ttj(args);
      assert.equal(x.status, status, `${args.join(' ')}: ${x.stdout} ${x.stderr}`);
      assert.equal(x.json?.error?.code, code, `${args.join(' ')}: ${x.stdout}`);
    }
    // Without qemu-img on the PATH: TOOL_FAILED naming the package.
    const noTools = ttj(['export', J, '--out', tmp.path('y'), '--json'], { env: { ...process.env, PATH: '/nonexistent' } });
    assert.equal(noTools.status, 1);
    assert.equal(noTools.json.error.code, ErrorCodes.TOOL_FAILED);
    assert.equal(noTools.json.error.install, 'qemu-utils');
  });
});
