/**
 * `ttj record --audio`: the boot-sector guest built with --tone plays an 879.9 Hz square
 * wave on the PC speaker; QEMU writes it through its wav audio backend and ttj appends it
 * as audio events. The sound folded between two frames has its energy at that frequency,
 * and the journal verifies --deep.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { record } from '../../src/capture/record.js';
import { audioBetween } from '../../src/journal/audio.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import { verify } from '../../src/journal/verify.js';
import { exportPoint } from '../../src/replay/export/export-point.js';
import { WAV_HEADER_BYTES } from '../../src/util/wav.js';
import { ensureToneGuest, TONE_HZ } from '../../journal-tools/guests/guests.js';
import { decodeAudio, ffprobeAudio } from '../helpers/export-checks.js';
import { ttjAsync } from '../helpers/run-ttj.js';
import { useShmTmp } from '../helpers/tmp.js';
import { energyAt, firstChannel } from '../helpers/tone.js';
import { withJournal } from '../helpers/with-journal.js';

/** Frequencies that must be far quieter than the tone: below it, between its harmonics, and its octave. */
const OTHER_HZ = [220, 440, 600, 1200, 1760, 2000];

describe('ttj record --audio (the boot-sector guest with a PC-speaker tone) @slow', function () {
  this.timeout(180000);
  const tmp = useShmTmp();

  it('records the tone as audio events: between two frames its energy is at 880 Hz; fold writes it; verify --deep accepts it; the exported mp4 plays it', async () => {
    const disk = tmp.path('boot.img');
    copyFileSync(await ensureToneGuest(), disk);
    const J = tmp.path('vm.ttj');
    // TCG: QEMU 7.2's PC speaker follows the PIT it emulates itself (under KVM the in-kernel PIT; docs/qemu.md, "Sound").
    const r = await record(J, { memorySize: 32 << 20, disks: [{ name: 'boot', path: disk }], accel: 'tcg', intervalMs: 500, fps: 5, durationMs: 6000, audio: true });
    assert.ok(r.audio && r.audio.seconds > 1, JSON.stringify(r));
    assert.deepEqual([r.audio.sampleRate, r.audio.channels, r.audio.format], [44100, 1, 's16le']);
    await withJournal(J, async (j) => {
      const l = await log(j);
      assert.equal(l.audio.length, r.audio!.events);
      // A pair of consecutive frames with a tenth of a second of sound or more between them, late in the recording.
      const frames = l.frames.slice(Math.floor(l.frames.length / 2));
      let checked = 0;
      for (let i = 0; i + 1 < frames.length; i++) {
        const clip = await audioBetween(j, frames[i]!.frame, frames[i + 1]!.frame);
        if (!clip || clip.samples < clip.sampleRate / 10) continue;
        const s = firstChannel(clip.pcm, clip.channels);
        const tone = energyAt(s, TONE_HZ, clip.sampleRate);
        for (const hz of OTHER_HZ) assert.ok(tone > 20 * energyAt(s, hz, clip.sampleRate), `frames ${frames[i]!.frame}..${frames[i + 1]!.frame}: energy at ${hz} Hz is not far below the tone's`);
        checked++;
      }
      assert.ok(checked >= 2, `only ${checked} frame intervals had sound`);
      const v = await verify(j, { deep: true });
      assert.equal(v.ok, true, JSON.stringify(v.error));
      const m = await fold(j, { at: `epoch:${l.head.epoch}`, out: tmp.path('fold') });
      assert.ok(m.audio && m.audio.seconds > 0.2, JSON.stringify(m.audio));
      const wav = readFileSync(tmp.path('fold', 'audio.wav'));
      const s = firstChannel(wav.subarray(WAV_HEADER_BYTES), 1);
      assert.ok(energyAt(s, TONE_HZ, 44100) > 20 * energyAt(s, 440, 44100));
    });
    const x = await exportPoint(J, { at: 'head', out: tmp.path('export'), memoryFormat: 'raw', frames: { format: 'mp4' } });
    assert.ok(x.frames!.audio && x.frames!.audio.seconds > 1, JSON.stringify(x.frames));
    const video = tmp.path('export', 'frames.mp4');
    assert.deepEqual(ffprobeAudio(video), { codec: 'aac', sampleRate: 44100, channels: 1 });
    const decoded = decodeAudio(video, 44100).slice(44100 / 2);
    assert.ok(energyAt(decoded, TONE_HZ, 44100) > 20 * energyAt(decoded, 440, 44100), 'the video plays the tone');
  });

  it('ttj record --audio --json (a subprocess) reports the sound; ttj log and ttj fold show it', async () => {
    const disk = tmp.path('boot.img');
    copyFileSync(await ensureToneGuest(), disk);
    const J = tmp.path('cli.ttj');
    const r = await ttjAsync('record', J, '--memory', '32M', '--disk', `boot=${disk}`, '--accel', 'tcg', '--interval', '500ms', '--fps', '2', '--duration', '4s', '--audio', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json.audio.seconds > 0.5, r.stdout);
    const l = await ttjAsync('log', J, '--json');
    assert.equal(l.json.audio.length, r.json.audio.events);
    const text = await ttjAsync('log', J);
    assert.match(text.stdout, /audio \d+\.\d\d s/);
    const f = await ttjAsync('fold', J, '--at', `epoch:${l.json.head.epoch}`, '--out', tmp.path('fold'), '--json');
    assert.equal(f.json.audio.file, 'audio.wav', f.stdout);
  });
});
