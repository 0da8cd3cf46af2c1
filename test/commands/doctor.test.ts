import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { qemuInfo } from '../../src/capture/qemu/qemu-info.js';
import { ttj, ttjBin } from '../helpers/run-ttj.js';

describe('ttj doctor', function () {
  this.timeout(60000);

  it('reports the QEMU record and restore would run (the same probe), KVM and the NBD clients', () => {
    const r = ttj(['doctor', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.qemu.found, true);
    assert.equal(r.json.qemu.version, qemuInfo().version);
    assert.ok(['kvm', 'tcg'].includes(r.json.kvm.accel));
    assert.equal(r.json.nbdClients['qemu-io'], true);
    assert.equal(typeof r.json.native.loaded, 'boolean');
  });

  it('says how to install QEMU when the one named by TTJ_QEMU does not run', () => {
    const r = spawnSync(process.execPath, [ttjBin, 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, TTJ_QEMU: '/nonexistent/qemu' } });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.qemu.found, false);
    assert.match(j.qemu.install, /apt-get install qemu-system-x86/);
  });
});
