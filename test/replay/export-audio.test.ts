/** `ttj export --frames` of a journal with sound: the video has the sound between its first and last frame as its audio track. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { appendImages, type AudioInput } from '../../src/journal/append-images.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { exportPoint } from '../../src/replay/export/export-point.js';
import { decodeAudio, ffprobeAudio } from '../helpers/export-checks.js';
import { memoryImage, png } from '../helpers/images.js';
import { useTmp } from '../helpers/tmp.js';
import { energyAt, sineS16 } from '../helpers/tone.js';

const RATE = 44100;
const audio = (pcm: Buffer, firstSample: number): AudioInput => ({ pcm, firstSample, sampleRate: RATE, channels: 1, format: 's16le' });

describe('export: the audio track of the frames video', function () {
  this.timeout(120000);
  const tmp = useTmp();

  it('mp4 (AAC) and webm (Opus) carry the recorded sound; a span without sound has no audio track', async () => {
    const J = tmp.path('j');
    const tone = sineS16(880, RATE, 0.5);
    const w = await JournalWriter.openWriter(J);
    try {
      await appendImages(w, { memory: memoryImage(8, 4096, 1), frames: [png(32, 16, 0)] });
      await appendImages(w, { frames: [png(32, 16, 1)] });
      for (let i = 0; i < 3; i++) await appendImages(w, { audio: [audio(tone, (i * tone.length) / 2)], frames: [png(32, 16, 2 + i)] });
    } finally {
      await w.close();
    }
    for (const [format, codec] of [
      ['mp4', 'aac'],
      ['webm', 'opus'],
    ] as const) {
      const out = tmp.path(format);
      const m = await exportPoint(J, { at: 'head', out, memoryFormat: 'raw', frames: { format } });
      assert.deepEqual([m.frames!.audio?.events, m.frames!.audio?.samples], [3, (3 * tone.length) / 2]);
      const file = join(out, `frames.${format}`);
      assert.equal(ffprobeAudio(file)?.codec, codec);
      const s = decodeAudio(file, RATE).slice(RATE / 4, RATE);
      assert.ok(energyAt(s, 880, RATE) > 50 * energyAt(s, 440, RATE), `${format}: the tone is at 880 Hz`);
    }
    const quiet = await exportPoint(J, { at: 'head', out: tmp.path('quiet'), memoryFormat: 'raw', frames: { format: 'mp4', since: 'frame:0', until: 'frame:1' } });
    assert.equal(quiet.frames!.audio, undefined);
    assert.equal(ffprobeAudio(tmp.path('quiet', 'frames.mp4')), undefined);
  });
});
