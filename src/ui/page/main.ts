/**
 * The ttj ui page: a scrubber over the whole recording (filmstrip, play/pause at the
 * recorded speed, frame steps, epoch and label markers, gaps), lanes per epoch with a
 * range to diff, a panel for the selected point, a VM restored at it (noVNC) or forked
 * and recorded into a new journal, the fork tree of the journals served (switching
 * between them), and live updates while the journal shown grows. Rendered with lit-html; all data from the JSON API.
 */
import { html, nothing, render } from 'lit-html';
import { frameUrl, getDiff, getDiskLanes, getFamily, getTimeline, getVm, liveUrl, setJournal, startFork, startVm, stopVm } from './api.js';
import { forkTree } from './branches.js';
import { lanes, type LaneRange } from './lanes.js';
import { appendCommit, firstFrameOf, gaps, playDelayMs, type Gap } from './model.js';
import type { DiffResult, DiskLanes, FamilyListing, JournalCommit, Timeline, VmInfo } from './types.js';
import { Sound } from './sound.js';
import { verificationPanel, verifyForget, verifyPoint, verifyRefresh } from './verify-status.js';
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
  family?: FamilyListing;
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

/** The recorded sound beside the frames while playing (none when nothing was recorded there). */
const sound = new Sound(() => s.t.frames);
Object.assign(window, { ttjSound: () => sound.state() });

/** Selects frame `i` (a scrub, step or click): while playing, the sound goes on from there. */
function select(i: number): void {
  const n = s.t.frames.length;
  const before = s.i;
  s.i = Math.max(0, Math.min(n - 1, i));
  if (s.playing && s.i !== before) {
    if (s.i >= n - 1) return play(false);
    // The frames wait for the sound to start again from here.
    clearTimeout(timer);
    sound.restart(s.i, tick);
  }
  update();
}

/** Shows the next frame after the time between the two as recorded, while playing. */
function tick(): void {
  clearTimeout(timer);
  if (!s.playing) return;
  if (s.i >= s.t.frames.length - 1) return play(false);
  timer = setTimeout(
    () => {
      s.i++;
      sound.follow(s.i);
      update();
      tick();
    },
    playDelayMs(s.t.frames, s.i),
  );
}

function play(on: boolean): void {
  s.playing = on && s.t.frames.length > 1;
  clearTimeout(timer);
  sound.stop();
  if (s.playing) {
    if (s.i >= s.t.frames.length - 1) s.i = 0;
    sound.start(s.i, tick);
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

/** "Fork and record": restores the selected frame into a new journal, recorded while the VM runs; the page then shows that journal. */
async function forkHere(): Promise<void> {
  play(false);
  const name = (document.getElementById('fork-name') as HTMLInputElement | null)?.value.trim() || undefined;
  s.vmBusy = `forking at ${here()}…`;
  update();
  try {
    const r = await startFork(here(), name);
    s.vm = r.vm;
    s.family = { started: s.family?.started ?? '', members: r.members, recording: r.vm.fork?.journal ?? null };
    s.error = undefined;
    await switchTo(r.vm.fork!.journal);
  } catch (e) {
    s.error = (e as Error).message;
  }
  s.vmBusy = undefined;
  update();
  if (s.vm) screen.connect(document.getElementById('vm-screen')!, s.vm);
}

/** Shows journal `id` of the family: its timeline (at its newest frame), live updates and lanes. */
async function switchTo(id: string): Promise<void> {
  play(false);
  setJournal(id);
  verifyForget();
  actions.forgetLabelNote();
  const t = await getTimeline();
  events?.close();
  s = { ...s, t, gaps: gaps(t.frames), i: Math.max(0, t.frames.length - 1), live: 'connecting', range: undefined, disks: undefined };
  update();
  follow();
  void loadDiskLanes();
}

async function switchBranch(id: string): Promise<void> {
  try {
    await switchTo(id);
    s.error = undefined;
  } catch (e) {
    s.error = (e as Error).message;
  }
  update();
  if (s.vm) screen.connect(document.getElementById('vm-screen')!, s.vm);
  void loadFamily();
}

/** Fetches the fork tree (again: after a fork, a switch, a stop). */
async function loadFamily(): Promise<void> {
  try {
    s.family = await getFamily();
    update();
  } catch (e) {
    s.error = (e as Error).message;
  }
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
  void loadFamily();
  // The recorder's last commits came as it closed the journal: the timeline as it now ends.
  await refreshTimeline().catch((e: unknown) => (s.error = (e as Error).message));
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

/** The live event stream of the journal shown. */
let events: EventSource | undefined;

function follow(): void {
  const es = new EventSource(liveUrl(s.t.head.seq));
  events = es;
  es.addEventListener('open', () => {
    if (events !== es) return;
    s.live = 'live';
    update();
  });
  es.addEventListener('error', () => {
    if (events !== es) return;
    s.live = es.readyState === EventSource.CLOSED ? 'offline' : 'connecting';
    update();
  });
  es.addEventListener('commit', (ev) => {
    if (events !== es) return;
    const c = JSON.parse((ev as MessageEvent<string>).data) as JournalCommit;
    if (c.head.seq <= s.t.head.seq) return; // shown already
    // Commits the page did not see (the stream broke and resumed elsewhere): the whole timeline again.
    if (c.fromSeq > s.t.head.seq + 1) return void refreshTimeline().catch((e: unknown) => (s.error = (e as Error).message));
    const atEnd = s.i >= s.t.frames.length - 1;
    appendCommit(s.t, c.epochs, c.frames);
    s.t.head = { ...s.t.head, seq: c.head.seq, hash: c.head.hash };
    s.gaps = gaps(s.t.frames);
    if (atEnd && !s.playing) s.i = s.t.frames.length - 1;
    update();
    verifyRefresh();
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
      ${row('label', 'label', e?.labels.join(', ') || undefined)} ${row('cli', 'fold / export', f ? `ttj fold ${s.t.journal} --at frame:${f.frame} --out DIR · ttj export … --at frame:${f.frame}` : undefined)}
    </dl>
    <div class="buttons">
      <button id="restore" ?disabled=${!f || !!s.vmBusy} @click=${restoreHere}>Restore here</button>
      <button id="stop-vm" ?disabled=${!s.vm || !!s.vmBusy} @click=${stopHere}>Stop VM</button>
    </div>
    <div class="buttons">
      <button id="fork" ?disabled=${!f || !!s.vmBusy} title="restore here into a new journal, recorded while the VM runs" @click=${forkHere}>Fork and record</button>
      <input id="fork-name" type="text" placeholder="new journal (default NAME-fork-N.ttj)" size="24" />
    </div>
    ${actions.view()} ${verificationPanel()} ${s.vmBusy ? html`<p class="busy">${s.vmBusy}</p>` : nothing} ${s.error ? html`<p class="error" id="error">${s.error}</p>` : nothing}
    ${s.family ? forkTree(s.family, s.t.id, (id) => void switchBranch(id)) : nothing}`;
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
  verifyPoint(f ? `frame:${f.frame}` : undefined, update);
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
    void loadFamily();
    void actions.load().catch((e: unknown) => (s.error = (e as Error).message));
  } catch (e) {
    app().textContent = `ttj ui: ${(e as Error).message}`;
  }
}

void main();
