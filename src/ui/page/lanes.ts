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
  value: (e: EpochEntry) => number;
  unit: string;
}

/**
 * Per-epoch measures from the epoch index. The VM's pause time is not in the journal
 * (ttj record reports its percentiles when it stops), so it has no lane.
 */
const LANES: Lane[] = [
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
      const max = Math.max(1, ...values);
      return html`<div class="lane" data-lane=${l.name} data-total=${values.reduce((a, v) => a + v, 0)}>
        <span class="lane-title">${l.title}</span>
        <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" @pointerdown=${down} @pointerup=${up}>
          ${range ? svg`<rect class="range" x=${range.from * bw} y="0" width=${(range.to - range.from + 1) * bw} height=${H}></rect>` : ''}
          ${t.epochs.map((e) => {
            const h = (H * l.value(e)) / max;
            return svg`<rect class="bar" x=${e.epoch * bw} y=${H - h} width=${Math.max(bw * 0.8, 0.5)} height=${h}><title>epoch ${e.epoch}: ${l.value(e)} ${l.unit}</title></rect>`;
          })}
        </svg>
      </div>`;
    })}
  </div>`;
}
