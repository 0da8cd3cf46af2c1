/**
 * The ttj ui page: a scrubber over the whole recording (filmstrip, play/pause at the
 * recorded speed, frame steps, epoch and label markers, gaps), lanes per epoch with a
 * range to diff, a panel for the selected point, a VM restored at it (noVNC), and live
 * updates while the journal grows. Rendered with lit-html; all data from the JSON API.
 */
import { html, nothing, render } from 'lit-html';
import { audioUrl, frameUrl, getDiff, getDiskLanes, getTimeline, getVm, liveUrl, startVm, stopVm } from './api.js';
import { lanes, type LaneRange } from './lanes.js';
import { appendCommit, firstFrameOf, gaps, playDelayMs, type Gap } from './model.js';
import type { DiffResult, DiskLanes, JournalCommit, Timeline, VmInfo } from './types.js';
import { VmScreen } from './vm-screen.js';
import { PanelActions } from './actions.js';

const FILMSTRIP = 12;

interface State {
  t: Timeline;
  gaps: Gap[];
  /** Index of the selected frame. */
  i: number;
  playing: boolean;
  live: 'connecting' | 'live' | 'offline';
  range?: LaneRange & { diff?: DiffResult; error?: string };
  disks?: DiskLanes;
  vm?: VmInfo;
  vmBusy?: string;
  error?: string;
}

let s: State;
let timer: ReturnType<typeof setTimeout> | undefined;
const screen = new VmScreen();
const actions = new PanelActions({ point: () => (s.t.frames[s.i] ? here() : undefined), refresh: refreshTimeline, update: () => update() });

/** Fetches the timeline again (labels the live stream does not carry), keeping the selected frame. */
async function refreshTimeline(): Promise<void> {
  const t = await getTimeline();
  s.t = t;
  s.gaps = gaps(t.frames);
  s.i = Math.min(s.i, Math.max(0, t.frames.length - 1));
  update();
}

function select(i: number): void {
  const n = s.t.frames.length;
  s.i = Math.max(0, Math.min(n - 1, i));
  update();
}

/** The recorded sound, playing from the frame where play started (none when nothing was recorded there). */
let sound: HTMLAudioElement | undefined;

function play(on: boolean): void {
  s.playing = on && s.t.frames.length > 1;
  clearTimeout(timer);
  sound?.pause();
  sound = undefined;
  if (s.playing) {
    if (s.i >= s.t.frames.length - 1) s.i = 0;
    sound = new Audio(audioUrl(s.i, s.t.frames.length - 1));
    // A journal without sound answers 204: nothing plays, and the frames go on.
    sound.play().catch(() => undefined);
    const tick = () => {
      if (!s.playing) return;
      if (s.i >= s.t.frames.length - 1) return play(false);
      timer = setTimeout(
        () => {
          select(s.i + 1);
          tick();
        },
        playDelayMs(s.t.frames, s.i),
      );
    };
    tick();
  }
  update();
}

/** The POINT of the selected frame (the state there is that of its epoch). */
const here = () => `frame:${s.t.frames[s.i]?.frame ?? 0}`;

async function chooseRange(r: LaneRange): Promise<void> {
  s.range = r;
  update();
  try {
    const diff = await getDiff(`epoch:${r.from}`, `epoch:${r.to}`);
    if (s.range === r) s.range = { ...r, diff };
  } catch (e) {
    if (s.range === r) s.range = { ...r, error: String((e as Error).message) };
  }
  update();
}

async function restoreHere(): Promise<void> {
  play(false);
  s.vmBusy = `restoring ${here()}…`;
  update();
  try {
    s.vm = (await startVm(here())).vm;
    s.error = undefined;
  } catch (e) {
    s.error = (e as Error).message;
  }
  s.vmBusy = undefined;
  update();
  if (s.vm) screen.connect(document.getElementById('vm-screen')!, s.vm);
}

async function stopHere(): Promise<void> {
  screen.disconnect();
  s.vmBusy = 'stopping…';
  update();
  try {
    await stopVm();
  } catch (e) {
    s.error = (e as Error).message;
  }
  s.vm = undefined;
  s.vmBusy = undefined;
  update();
}

/** Fetches the disk lanes (again: after each commit); they come after the page is drawn. */
async function loadDiskLanes(): Promise<void> {
  try {
    s.disks = await getDiskLanes();
    update();
  } catch (e) {
    s.error = (e as Error).message;
  }
}

function follow(): void {
  const es = new EventSource(liveUrl(s.t.head.seq));
  es.addEventListener('open', () => {
    s.live = 'live';
    update();
  });
  es.addEventListener('error', () => {
    s.live = es.readyState === EventSource.CLOSED ? 'offline' : 'connecting';
    update();
  });
  es.addEventListener('commit', (ev) => {
    const c = JSON.parse((ev as MessageEvent<string>).data) as JournalCommit;
    const atEnd = s.i >= s.t.frames.length - 1;
    appendCommit(s.t, c.epochs, c.frames);
    s.t.head = { ...s.t.head, seq: c.head.seq, hash: c.head.hash };
    s.gaps = gaps(s.t.frames);
    if (atEnd && !s.playing) s.i = s.t.frames.length - 1;
    update();
    void loadDiskLanes();
    // A commit with neither epochs nor frames carries a label of an earlier epoch (ttj label).
    if (!c.epochs.length && !c.frames.length) refreshTimeline().catch((e: unknown) => (s.error = (e as Error).message));
  });
}

function onKey(e: KeyboardEvent): void {
  if (screen.focused() || (e.target as HTMLElement).tagName === 'INPUT') return;
  if (e.key === 'ArrowLeft') select(s.i - 1);
  else if (e.key === 'ArrowRight') select(s.i + 1);
  else if (e.key === ' ') play(!s.playing);
  else return;
  e.preventDefault();
}

const pct = (frame: number) => `${(100 * frame) / Math.max(1, s.t.frames.length - 1)}%`;

function markers() {
  const { frames, epochs } = s.t;
  const step = Math.max(1, Math.ceil(epochs.length / 1000));
  return html`${epochs
    .filter((e, k) => k % step === 0 || e.labels.length)
    .map((e) => {
      const f = firstFrameOf(frames, e);
      return html`<div class="epoch-marker ${e.labels.length ? 'labelled' : ''}" style="left:${pct(f)}" title="epoch ${e.epoch}${e.labels.length ? `: ${e.labels.join(', ')}` : ''}"></div>`;
    })}
  ${s.gaps.map((g) => html`<div class="gap" style="left:${pct(g.before)};width:calc(${pct(g.after)} - ${pct(g.before)})" title="nothing recorded for ${(g.ms / 1000).toFixed(1)} s"></div>`)}
  ${epochs
    .filter((e) => e.labels.length)
    .map((e) => {
      const f = firstFrameOf(frames, e);
      return html`<div class="label-marker ${f > 0.8 * frames.length ? 'end' : ''}" style="left:${pct(f)}">${e.labels.join(', ')}</div>`;
    })}`;
}

function filmstrip() {
  const n = s.t.frames.length;
  const k = Math.min(FILMSTRIP, n);
  const picks = [...new Set(Array.from({ length: k }, (_, j) => Math.round((j * (n - 1)) / Math.max(1, k - 1))))];
  return picks.map(
    (i) =>
      html`<button class="thumb ${i === s.i ? 'current' : ''}" data-frame=${i} @click=${() => select(i)} title="frame ${i}">
        <img loading="lazy" decoding="async" src=${frameUrl(i)} alt="frame ${i}" />
        <span>${i}</span>
      </button>`,
  );
}

function panel() {
  const f = s.t.frames[s.i];
  const e = f ? s.t.epochs[f.epoch] : undefined;
  const row = (name: string, label: string, v: unknown) =>
    html`<dt>${label}</dt>
      <dd data-field=${name}>${v === undefined ? '—' : String(v)}</dd>`;
  return html`<h2>Selected point</h2>
    <dl>
      ${row('frame', 'frame', f?.frame)} ${row('epoch', 'epoch', f?.epoch)} ${row('seq', 'seq', f?.seq)} ${row('time', 'time', f?.time)} ${row('stateRoot', 'state root', e?.stateRoot)}
      ${row('label', 'label', e?.labels.join(', ') || undefined)}
      ${row('verified', 'verification', e ? `state root committed by epoch ${e.epoch}${e.signer ? `, signed by ${e.signer.slice(0, 16)}` : ''} (ttj verify proves it)` : undefined)}
      ${row('cli', 'commands', f ? `ttj fold ${s.t.journal} --at frame:${f.frame} --out DIR · ttj export … --at frame:${f.frame}` : undefined)}
    </dl>
    <div class="buttons">
      <button id="restore" ?disabled=${!f || !!s.vmBusy} @click=${restoreHere}>Restore here</button>
      <button id="stop-vm" ?disabled=${!s.vm || !!s.vmBusy} @click=${stopHere}>Stop VM</button>
    </div>
    ${s.vmBusy ? html`<p class="busy">${s.vmBusy}</p>` : nothing} ${s.error ? html`<p class="error" id="error">${s.error}</p>` : nothing} ${actions.view()} ${forkInfo()}`;
}

function forkInfo() {
  const fk = s.t.fork;
  return html`<h2>Branches</h2>
    <ul class="fork-tree">
      ${
        fk
          ? html`<li>
              ${fk.parent} <span class="muted">(parent; forked at ${fk.point}, epoch ${fk.parentEpoch})</span>
              <ul>
                <li class="here">${s.t.journal} ◀ you are here</li>
              </ul>
            </li>`
          : html`<li class="here">${s.t.journal} ◀ you are here</li>`
      }
    </ul>`;
}

function rangeResult() {
  const r = s.range;
  if (!r) return html`<p class="muted" id="range-hint">Drag over the lanes to compare two epochs.</p>`;
  // What lies between the two epoch commits in the stream (as `ttj log --since epoch:A --until epoch:B` lists it).
  const lo = s.t.epochs[r.from]?.seq ?? 0;
  const hi = s.t.epochs[r.to]?.seq ?? 0;
  const frames = s.t.frames.filter((f) => f.seq >= lo && f.seq <= hi).length;
  const d = r.diff;
  return html`<div
    id="range-result"
    data-from=${r.from}
    data-to=${r.to}
    data-epochs=${r.to - r.from + 1}
    data-frames=${frames}
    data-changed-pages=${d?.memory?.changedPages ?? ''}
    data-changed-blocks=${d ? d.disks.reduce((a, x) => a + x.changedBlocks, 0) : ''}
    data-device-changed=${d ? String(d.device.changed) : ''}
  >
    <b>epoch ${r.from} → ${r.to}</b>: ${r.to - r.from + 1} epochs, ${frames} frames.
    ${
      d
        ? html`Memory: ${d.memory?.changedPages ?? 0} pages differ; ${d.disks.map((x) => html`disk ${x.name}: ${x.changedBlocks} blocks differ; `)} device state ${d.device.changed ? 'differs' : 'same'}.`
        : r.error
          ? html`<span class="error">${r.error}</span>`
          : 'comparing…'
    }
  </div>`;
}

const app = () => document.getElementById('app')!;

function update(): void {
  const { t } = s;
  const f = t.frames[s.i];
  render(
    html`<header>
        <h1>ttj</h1>
        <span class="journal">${t.journal}</span>
        <span id="counts" data-frames=${t.frames.length} data-epochs=${t.epochs.length}>${t.frames.length} frames · ${t.epochs.length} epochs</span>
        <span id="live" class=${s.live}>${s.live === 'live' ? '● live' : s.live}</span>
      </header>
      <main>
        <section class="viewer">
          <div id="vm-screen" ?hidden=${!s.vm}></div>
          ${s.vm ? nothing : f ? html`<img id="frame" data-frame=${f.frame} src=${frameUrl(f.frame)} alt="frame ${f.frame}" />` : html`<p class="empty">No frames recorded yet.</p>`}
        </section>
        <aside id="panel">${panel()}</aside>
      </main>
      <div class="controls">
        <button id="prev" title="previous frame (←)" @click=${() => select(s.i - 1)}>◀︎</button>
        <button id="play" title="play / pause (space)" data-playing=${String(s.playing)} @click=${() => play(!s.playing)}>${s.playing ? '❚❚' : '▶︎'}</button>
        <button id="next" title="next frame (→)" @click=${() => select(s.i + 1)}>▶︎▏</button>
        <span id="position">frame ${f?.frame ?? '—'} / ${Math.max(0, t.frames.length - 1)}</span>
      </div>
      <div class="scrubber">
        <div id="markers">${markers()}</div>
        <input id="scrubber" type="range" min="0" max=${Math.max(0, t.frames.length - 1)} .value=${String(s.i)} @input=${(e: Event) => select(Number((e.target as HTMLInputElement).value))} />
      </div>
      <div id="filmstrip">${filmstrip()}</div>
      ${lanes(t, s.disks, s.range, chooseRange)} ${rangeResult()}`,
    app(),
  );
}

async function main(): Promise<void> {
  try {
    const [t, vm] = await Promise.all([getTimeline(), getVm()]);
    s = { t, gaps: gaps(t.frames), i: 0, playing: false, live: 'connecting', vm: vm.vm ?? undefined };
    app().replaceChildren();
    update();
    if (s.vm) screen.connect(document.getElementById('vm-screen')!, s.vm);
    document.addEventListener('keydown', onKey);
    follow();
    void loadDiskLanes();
    void actions.load().catch((e: unknown) => (s.error = (e as Error).message));
  } catch (e) {
    app().textContent = `ttj ui: ${(e as Error).message}`;
  }
}

void main();
