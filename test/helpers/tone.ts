/** Sine tones and their energy at a frequency (Goertzel), for the audio tests. */

/** Mono s16le samples of a sine of `hz` Hz at `rate` Hz, `seconds` long, amplitude `amp` (0..32767). */
export function sineS16(hz: number, rate: number, seconds: number, amp = 12000): Buffer {
  const n = Math.round(rate * seconds);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return b;
}

/** The first channel of interleaved s16le samples. */
export function firstChannel(pcm: Buffer, channels: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + 2 * channels <= pcm.length; i += 2 * channels) out.push(pcm.readInt16LE(i));
  return out;
}

/** The energy of `samples` at `hz` (Goertzel), normalised by the sample count. */
export function energyAt(samples: number[], hz: number, rate: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / samples.length;
}
