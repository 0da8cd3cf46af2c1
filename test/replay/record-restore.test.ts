import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { record, type RecordResult } from '../../src/capture/record.js';
import { restore } from '../../src/replay/restore.js';
import { QmpClient } from '../../src/capture/qemu/qmp-client.js';
import type { Vm } from '../../src/capture/qemu/vm.js';
import { Journal } from '../../src/journal/journal.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import { verify } from '../../src/journal/verify.js';
import { COUNTER_ADDR, COUNTER_MAGIC, MAGIC_ADDR, LBA_BASE, LBA_COUNT, ensureBootSectorGuest } from '../../journal-tools/guests/index.js';
import { useTmp } from '../helpers/tmp.js';
import { decodePng } from '../helpers/decode-png.js';
import { guestCounter, maxGuestSteps, untilCounted } from '../helpers/boot-sector-guest.js';
import { ttjBin } from '../helpers/run-ttj.js';
import { waitFor } from '../helpers/wait-for.js';

async function foldAt(J: string, at: string, out: string) {
  const j = await Journal.open(J);
  try {
    const m = await fold(j, { at, out });
    const mem = readFileSync(join(out, 'memory.raw'));
    // Before the guest has started (the BIOS still running, slow under TCG) the counter's
    // address holds whatever the BIOS left there: the guest's magic tells.
    const started = mem.readUInt32LE(MAGIC_ADDR) === COUNTER_MAGIC;
    return { m, counter: started ? mem.readUInt32LE(COUNTER_ADDR) : 0, disk: readFileSync(join(out, 'disks', 'boot.raw')) };
  } finally {
    await j.close();
  }
}

describe('record a live QEMU VM and resume it from an earlier frame (boot-sector guest) @slow', function () {
  this.timeout(120000);
  const tmp = useTmp();
  let image: string;
  before(() => {
    image = ensureBootSectorGuest();
  });

  it('records epochs and frames, folds them, restores a middle frame paused, and the VM runs on from there', async () => {
    const J = tmp.path('vm.ttj');
    // Recorded until the guest has counted and enough epochs are in, however slow this
    // machine is today (a busy machine misses ticks and boots slower; that is allowed).
    const r: RecordResult = await record(J, {
      memorySize: 32 << 20,
      disks: [{ name: 'boot', path: image }],
      intervalMs: 250,
      fps: 4,
      durationMs: 90000,
      ...untilCounted(12, 30),
    });
    assert.equal(r.stoppedBy, 'signal', 'the guest counted before the 90 s cap');
    assert.ok(r.frames > r.epochs, 'frames between epochs');
    // Every interval tick is accounted for: an epoch, or a tick missed while one was captured;
    // and one more epoch at the stop.
    assert.equal(r.epochs, r.epochTicks - r.missedEpochTicks + 1, JSON.stringify(r));
    assert.ok(r.pauseMs.p50 > 0);

    const j = await Journal.open(J);
    const l = await log(j);
    assert.equal((await verify(j, { deep: true })).ok, true);
    await j.close();
    assert.equal(l.epochs.length, r.epochs);
    // Gapless: epochs 0..N in stream order, each with its frame.
    assert.deepEqual(
      l.epochs.map((e) => e.epoch),
      [...Array(r.epochs).keys()],
    );
    assert.equal([r.firstEpoch, r.lastEpoch].join(), [0, r.epochs - 1].join());

    // Counters folded at frames never go backwards, and the guest ran.
    let last = -1;
    const byFrame: { frame: number; counter: number }[] = [];
    for (const f of l.frames.filter((_, i) => i % 6 === 0 || i === l.frames.length - 1)) {
      const { m, counter, disk } = await foldAt(J, `frame:${f.frame}`, tmp.path(`f${f.frame}`));
      assert.equal(m.epoch, f.epoch);
      decodePng(readFileSync(tmp.path(`f${f.frame}`, 'frame.png')));
      assert.ok(counter >= last, `counter at frame ${f.frame}: ${counter} < ${last}`);
      last = counter;
      byFrame.push({ frame: f.frame, counter });
      // The disk is at the same epoch as memory: the newest sector write matches the counter.
      // (Every step writes sector LBA_BASE + c mod LBA_COUNT; a pause mid-step leaves the step before complete.)
      if (counter >= 2) {
        const sector = (c: number) => disk.readUInt32LE((LBA_BASE + (c % LBA_COUNT)) * 512);
        assert.ok(sector(counter) === counter || sector(counter - 1) === counter - 1, `disk at frame ${f.frame}: counter ${counter}, sector ${sector(counter)}`);
      }
    }
    assert.ok(last > 10, `the guest counted (${last})`);

    const mid = byFrame.filter((b) => b.counter > 0)[Math.floor(byFrame.filter((b) => b.counter > 0).length / 2)]!;
    const res = await restore(J, { at: `frame:${mid.frame}`, paused: true, detach: true, qmpPath: tmp.path('qmp.sock') });
    const qmp = await QmpClient.connect(res.qmp);
    try {
      assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'paused');
      const read = async () => parseInt(/0x([0-9a-f]+)\s*$/i.exec(await qmp.hmp(`xp /1wx 0x${COUNTER_ADDR.toString(16)}`))![1]!, 16);
      assert.equal(await read(), mid.counter, 'the restored VM holds the folded counter');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await read(), mid.counter, 'and stays paused');
      const t0 = Date.now();
      await qmp.execute('cont');
      const after = await waitFor(async () => ((await read()) >= mid.counter + 3 ? read() : 0), 60000, 'the restored guest to count on');
      assert.ok(after <= mid.counter + maxGuestSteps(Date.now() - t0), `runs on from ${mid.counter}, not from far ahead: ${after}`);
      const png = await qmp.execute('screendump', { filename: tmp.path('after.png'), format: 'png' }).then(() => readFileSync(tmp.path('after.png')));
      decodePng(png);
      assert.ok(existsSync(join(res.workDir, 'memory.raw')), 'the RAM file stays while QEMU runs');
      await qmp.execute('quit').catch(() => undefined);
    } finally {
      qmp.close();
      try {
        process.kill(res.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // The detached VM's work directory (its RAM file on /dev/shm, its disks) is removed
    // once QEMU has exited.
    for (let i = 0; i < 50 && existsSync(res.workDir); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(res.workDir), false, `${res.workDir} is left behind`);

    // A fork: the restored VM keeps recording into J2; J never changes.
    const headBefore = l.head.seq;
    // Recorded until the restored guest has counted on a few steps.
    const forked = new AbortController();
    let forkRam = '';
    const f = await restore(J, {
      at: `frame:${mid.frame}`,
      fork: tmp.path('vm2.ttj'),
      durationMs: 90000,
      intervalMs: 250,
      fps: 0,
      signal: forked.signal,
      onStart: (vm) => (forkRam = vm.ramPath),
      onEpoch: () => {
        if (guestCounter(forkRam) >= mid.counter + 5) forked.abort();
      },
    });
    assert.equal(f.recorded!.stoppedBy, 'signal');
    assert.ok(f.recorded!.epochs >= 2);
    const j2 = await Journal.open(tmp.path('vm2.ttj'));
    try {
      const first = await j2.event(1);
      assert.equal(first.body, 'fork');
      assert.equal(first.fork!.point, `frame:${mid.frame}`);
      assert.equal((await verify(j2)).ok, true);
    } finally {
      await j2.close();
    }
    const c0 = (await foldAt(tmp.path('vm2.ttj'), 'epoch:0', tmp.path('k0'))).counter;
    const cN = (await foldAt(tmp.path('vm2.ttj'), 'head', tmp.path('kN'))).counter;
    assert.equal(c0, mid.counter);
    assert.ok(cN > c0, `the fork ran on: ${c0} -> ${cN}`);
    const j1 = await Journal.open(J);
    assert.equal((await j1.head()).seq, headBefore);
    await j1.close();
  });

  it('keeps what was committed when QEMU dies mid-record, and says so', async () => {
    const J = tmp.path('vm.ttj');
    let started: Vm | undefined;
    await assert.rejects(
      record(J, {
        memorySize: 32 << 20,
        disks: [{ name: 'boot', path: image }],
        intervalMs: 200,
        fps: 0,
        durationMs: 90000,
        onStart: (vm) => (started = vm),
        onEpoch: (e) => {
          if (e.epoch === 2) started!.proc.kill('SIGKILL');
        },
      }),
      (e) => isTtjError(e, ErrorCodes.QEMU_FAILED),
    );
    const j = await Journal.open(J);
    try {
      assert.equal((await verify(j, { deep: true })).ok, true);
      const head = await j.head();
      assert.ok(head.epoch >= 2);
      const m = await fold(j, { at: 'head', out: tmp.path('o') });
      assert.equal(m.epoch, head.epoch);
    } finally {
      await j.close();
    }
  });

  it('refuses a device state this QEMU cannot load with INCOMPATIBLE_VM', async () => {
    const { Vm } = await import('../../src/capture/qemu/vm.js');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(tmp.path('ram'), Buffer.alloc(32 << 20));
    const vm = await Vm.start({
      config: { qemuVersion: '', machine: 'pc', accel: 'tcg', memorySize: 32 << 20, disks: [], extraArgs: [] },
      ramPath: tmp.path('ram'),
      incoming: true,
    });
    try {
      // A migration stream header (QEVM, version 3) followed by a section QEMU does not know.
      const bogus = Buffer.concat([Buffer.from('QEVM'), Buffer.from([0, 0, 0, 3]), Buffer.from([0x04, 0, 0, 0, 1, 7]), Buffer.from('nosuch\0'), Buffer.alloc(64, 0xee)]);
      await assert.rejects(vm.loadDeviceState(bogus), (e) => isTtjError(e, ErrorCodes.INCOMPATIBLE_VM));
    } finally {
      await vm.kill();
    }
  });

  it('names what is wrong: QEMU missing, a point that does not exist, a journal without a VM', async () => {
    const J = tmp.path('vm.ttj');
    process.env.TTJ_QEMU = '/nonexistent/qemu-system-x86_64';
    try {
      await assert.rejects(record(J, { memorySize: 32 << 20, durationMs: 100 }), (e) => isTtjError(e, ErrorCodes.QEMU_MISSING) && /apt-get install qemu-system-x86/.test(e.message));
    } finally {
      delete process.env.TTJ_QEMU;
    }
    await record(J, { memorySize: 32 << 20, disks: [{ name: 'boot', path: image }], intervalMs: 200, fps: 0, durationMs: 600 });
    await assert.rejects(restore(J, { at: 'frame:9999', detach: true }), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
    await assert.rejects(restore(J, { at: 'nonsense', detach: true }), (e) => isTtjError(e, ErrorCodes.BAD_POINT));
    // Recorded without a console: the VM had no serial port, so a restore has none to write.
    await assert.rejects(restore(J, { at: 'head', detach: true, consolePath: tmp.path('console.txt') }), (e) => isTtjError(e, ErrorCodes.BAD_ARGUMENT));
    const { spawnSync } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(tmp.path('m.raw'), Buffer.alloc(1 << 20));
    spawnSync(process.execPath, [ttjBin, 'append', tmp.path('img.ttj'), '--memory', tmp.path('m.raw')]);
    await assert.rejects(restore(tmp.path('img.ttj'), { at: 'head', detach: true }), (e) => isTtjError(e, ErrorCodes.INCOMPATIBLE_VM));
  });
});
