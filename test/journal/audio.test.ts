import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ErrorCodes, isTtjError } from '../../src/errors.js';
import { appendImages, type AudioInput } from '../../src/journal/append-images.js';
import { appendEventStream, encodeEventStream } from '../../src/journal/append-events.js';
import { audioBetween, wavBytes } from '../../src/journal/audio.js';
import { fold } from '../../src/journal/fold.js';
import { log } from '../../src/journal/log.js';
import { verify } from '../../src/journal/verify.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { parseWavHeader, WAV_HEADER_BYTES } from '../../src/util/wav.js';
import { memoryImage, png } from '../helpers/images.js';
import { sha } from '../helpers/small-journal.js';
import { useTmp } from '../helpers/tmp.js';
import { startUiServer } from '../../src/ui/server.js';
import { energyAt, firstChannel, sineS16 } from '../helpers/tone.js';
import { withJournal } from '../helpers/with-journal.js';

const PS = 4096;
const RATE = 8000;
const audio = (pcm: Buffer, firstSample: number): AudioInput => ({ pcm, firstSample, sampleRate: RATE, channels: 1, format: 's16le' });

describe('audio events: append, index, fold, verify', function () {
  this.timeout(60000);
  const tmp = useTmp();
  const a = sineS16(440, RATE, 0.5);
  const b = sineS16(1000, RATE, 0.25);
  const silence = Buffer.alloc(RATE * 2);

  /**
   * Epoch 0 + frame 0; audio a + frame 1; audio b + epoch 1 + frame 2; one second of
   * silence + frame 3; the same silence + frame 4.
   */
  async function build(): Promise<string> {
    const J = tmp.path('j');
    const w = await JournalWriter.openWriter(J);
    try {
      await appendImages(w, { memory: memoryImage(8, PS, 1), frames: [png(4, 4, 0)] });
      await appendImages(w, { audio: [audio(a, 0)], frames: [png(4, 4, 1)] });
      await appendImages(w, { audio: [audio(b, a.length / 2)], memory: memoryImage(8, PS, 2), frames: [png(4, 4, 2)] });
      await appendImages(w, { audio: [audio(silence, (a.length + b.length) / 2)], frames: [png(4, 4, 3)] });
      await appendImages(w, { audio: [audio(silence, (a.length + b.length + silence.length) / 2)], frames: [png(4, 4, 4)] });
    } finally {
      await w.close();
    }
    return J;
  }

  it('binds each chunk to the epoch before it, indexes it, and log lists it', async () => {
    const J = await build();
    const r = await withJournal(J, (j) => log(j));
    assert.deepEqual(
      r.audio.map((e) => [e.epoch, e.samples, e.firstSample, e.sampleRate, e.channels, e.format]),
      [
        [0, RATE / 2, 0, RATE, 1, 's16le'],
        [0, RATE / 4, RATE / 2, RATE, 1, 's16le'],
        [1, RATE, (RATE * 3) / 4, RATE, 1, 's16le'],
        [1, RATE, (RATE * 7) / 4, RATE, 1, 's16le'],
      ],
    );
    const since = await withJournal(J, (j) => log(j, { since: 'frame:2' }));
    assert.equal(since.audio.length, 2);
  });

  it('audioBetween gives the sound played between two frames, and its WAV', async () => {
    const J = await build();
    await withJournal(J, async (j) => {
      const ab = (await audioBetween(j, 0, 1))!;
      assert.ok(ab.pcm.equals(a));
      assert.equal(ab.samples, RATE / 2);
      const bc = (await audioBetween(j, 1, 2))!;
      assert.ok(bc.pcm.equals(b));
      const s = firstChannel(bc.pcm, 1);
      assert.ok(energyAt(s, 1000, RATE) > 100 * energyAt(s, 440, RATE));
      assert.ok((await audioBetween(j, 0, 2))!.pcm.equals(Buffer.concat([a, b])));
      assert.equal(await audioBetween(j, 2, 2).catch((e: unknown) => isTtjError(e, ErrorCodes.BAD_ARGUMENT)), true);
      await assert.rejects(audioBetween(j, 0, 9), (e) => isTtjError(e, ErrorCodes.POINT_NOT_FOUND));
      const wav = wavBytes(ab);
      assert.deepEqual(parseWavHeader(wav), { sampleRate: RATE, channels: 1, bitsPerSample: 16 });
      assert.equal(wav.readUInt32LE(40), a.length);
      assert.ok(wav.subarray(WAV_HEADER_BYTES).equals(a));
    });
  });

  it('ttj ui serves the sound between two frames as a WAV (GET /api/audio), only with its token', async () => {
    const J = await build();
    const server = await startUiServer(J);
    try {
      const url = (q: string) => server.url.replace('/?', `/api/audio?${q}&`);
      const res = await fetch(url('from=0&to=2'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'audio/wav');
      const expected = await withJournal(J, async (j) => wavBytes((await audioBetween(j, 0, 2))!));
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(expected));
      assert.equal((await fetch(url('from=0&to=9'))).status, 404);
      assert.equal((await fetch(url('from=x&to=2'))).status, 400);
      assert.equal((await fetch(url('from=0&to=2').replace(/token=[^&]+/, 'token=wrong'))).status, 403);
    } finally {
      await server.close();
    }
  });

  it('fold writes audio.wav: the sound of the epoch interval that ended in the folded epoch', async () => {
    const J = await build();
    const out = tmp.path('out');
    const m = await withJournal(J, (j) => fold(j, { at: 'epoch:1', out }));
    assert.equal(m.audio?.file, 'audio.wav');
    assert.equal(m.audio?.samples, (RATE * 3) / 4);
    const wav = readFileSync(`${out}/audio.wav`);
    assert.ok(wav.subarray(WAV_HEADER_BYTES).equals(Buffer.concat([a, b])));
    // Epoch 0 has no sound before it: a fold there into the same directory removes audio.wav.
    const m0 = await withJournal(J, (j) => fold(j, { at: 'epoch:0', out }));
    assert.equal(m0.audio, undefined);
    assert.equal(existsSync(`${out}/audio.wav`), false);
  });

  it('stores silence once, and verify --deep checks the audio and its index', async () => {
    const J = await build();
    const w = await JournalWriter.openWriter(J);
    try {
      // The chunks of another second of silence are stored already.
      assert.equal((await appendImages(w, { audio: [audio(silence, 0)] })).newBlobs, 0);
    } finally {
      await w.close();
    }
    const report = await withJournal(J, (j) => verify(j, { deep: true }));
    assert.equal(report.ok, true, JSON.stringify(report.error));
  });

  it('refuses malformed audio events and leaves the journal unchanged', async () => {
    const J = await build();
    const head = await withJournal(J, (j) => j.head());
    const w = await JournalWriter.openWriter(J);
    try {
      for (const bad of [
        { format: 'f32le', channels: 1, sampleRate: RATE, length: 4 },
        { format: 's16le', channels: 0, sampleRate: RATE, length: 4 },
        { format: 's16le', channels: 2, sampleRate: RATE, length: 6 },
        { format: 's16le', channels: 1, sampleRate: 0, length: 4 },
      ]) {
        const data = Buffer.alloc(bad.length);
        const addr = sha(data);
        const stream = encodeEventStream([{ blob: { data } }, { audio: { ...bad, chunkSize: 8192, chunkAddrs: addr, contentHash: addr } }]);
        await assert.rejects(appendEventStream(w, stream), (e) => isTtjError(e, ErrorCodes.BAD_EVENT_STREAM), JSON.stringify(bad));
      }
    } finally {
      await w.close();
    }
    assert.deepEqual(await withJournal(J, (j) => j.head()), head);
  });

  it('refuses audio before the first epoch (NO_EPOCH)', async () => {
    const w = await JournalWriter.openWriter(tmp.path('empty'), { create: true });
    try {
      await assert.rejects(appendImages(w, { audio: [audio(a, 0)], memory: memoryImage(8, PS, 1) }), (e) => isTtjError(e, ErrorCodes.NO_EPOCH));
    } finally {
      await w.close();
    }
  });
});
