/** The lanes under the scrubber: one bar per epoch for each measure, and a range chosen by dragging. */
import { html, svg } from 'lit-html';
import type { DiskLanes, EpochEntry, Timeline } from './types.js';

/** A range of epochs, `from` ≤ `to`. */
export interface LaneRange {
  from: number;
  to: number;
}

interface Lane {
  name: string;
  title: string;
  /** The epoch's value; undefined: not recorded (drawn as such, never as 0). */
  value: (e: EpochEntry) => number | undefined;
  /** The value as the bar's tooltip says it. */
  show?: (v: number) => string;
  unit: string;
}

/**
 * Per-epoch measures from the epoch index. The VM's pause is what `ttj record` measured
 * (`pauseUs`); epochs it did not capture (older journals, append, nbd) have none.
 */
const LANES: Lane[] = [
  { name: 'pause', title: 'VM paused', value: (e) => e.pauseUs, show: (v) => (v / 1000).toFixed(1), unit: 'ms' },
  { name: 'dirty', title: 'dirty pages', value: (e) => e.dirtyPages, unit: 'pages' },
  { name: 'disk', title: 'disk blocks written', value: (e) => e.diskBlocks, unit: 'blocks' },
  { name: 'device', title: 'device state', value: (e) => e.deviceBytes, unit: 'bytes' },
  { name: 'stored', title: 'bytes stored', value: (e) => e.storedBytes, unit: 'bytes' },
];

const W = 1000;
const H = 28;

let dragFrom: number | undefined;

/** The epoch under a pointer event on a lane. */
function epochAt(ev: PointerEvent, n: number): number {
  const r = (ev.currentTarget as Element).getBoundingClientRect();
  return Math.max(0, Math.min(n - 1, Math.floor(((ev.clientX - r.left) / r.width) * n)));
}

/** A lane per disk: the bytes written to it per epoch (`/api/lanes`, from the disk-write events). */
function diskLanes(d: DiskLanes | undefined): Lane[] {
  return (d?.disks ?? []).map((name) => ({ name: `disk:${name}`, title: `disk ${name} written`, value: (e) => d!.epochs[e.epoch]?.bytes[name] ?? 0, unit: 'bytes' }));
}

/** One epoch's bar: its height for a value, a hatched full-height bar for "not recorded". */
function bar(l: Lane, e: EpochEntry, v: number | undefined, max: number, bw: number) {
  const w = Math.max(bw * 0.8, 0.5);
  if (v === undefined) return svg`<rect class="bar none" data-epoch=${e.epoch} data-value="" x=${e.epoch * bw} y="0" width=${w} height=${H}><title>epoch ${e.epoch}: not recorded</title></rect>`;
  const h = (H * v) / max;
  return svg`<rect class="bar" data-epoch=${e.epoch} data-value=${v} x=${e.epoch * bw} y=${H - h} width=${w} height=${h}><title>epoch ${e.epoch}: ${l.show ? l.show(v) : v} ${l.unit}</title></rect>`;
}

/** The lanes of `t` (and of its disks' writes), with `range` highlighted; a drag over them calls `onRange` with the epochs at its ends. */
export function lanes(t: Timeline, disks: DiskLanes | undefined, range: LaneRange | undefined, onRange: (r: LaneRange) => void) {
  const n = t.epochs.length;
  const bw = W / Math.max(1, n);
  const down = (ev: PointerEvent) => {
    dragFrom = epochAt(ev, n);
    (ev.currentTarget as Element).setPointerCapture(ev.pointerId);
  };
  const up = (ev: PointerEvent) => {
    if (dragFrom === undefined) return;
    const to = epochAt(ev, n);
    onRange({ from: Math.min(dragFrom, to), to: Math.max(dragFrom, to) });
    dragFrom = undefined;
  };
  return html`<div id="lanes">
    ${[...LANES, ...diskLanes(disks)].map((l) => {
      const values = t.epochs.map(l.value);
      const known = values.filter((v): v is number => v !== undefined);
      const max = Math.max(1, ...known);
      const missing = values.length - known.length;
      return html`<div class="lane" data-lane=${l.name} data-total=${known.reduce((a, v) => a + v, 0)} data-not-recorded=${missing}>
        <span class="lane-title">${l.title}${missing === values.length && values.length ? html` <span class="muted">(not recorded)</span>` : ''}</span>
        <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" @pointerdown=${down} @pointerup=${up}>
          ${range ? svg`<rect class="range" x=${range.from * bw} y="0" width=${(range.to - range.from + 1) * bw} height=${H}></rect>` : ''} ${t.epochs.map((e, k) => bar(l, e, values[k], max, bw))}
        </svg>
      </div>`;
    })}
  </div>`;
}
