/**
 * The panel's actions on the selected point: "Label it" (`POST /api/labels`), and Fold and
 * Export (`POST /api/jobs`), run by the server one at a time into its output directory,
 * with their progress polled until they end, then the directory and the manifest's summary.
 */
import { html, nothing } from 'lit-html';
import { addLabel, getJob, startJob } from './api.js';
import type { UiJob, UiJobKind } from './types.js';

/** How often a running job is polled. */
const POLL_MS = 250;

/** What the actions need from the page. */
export interface ActionsHost {
  /** The POINT of the selected frame (undefined: none). */
  point(): string | undefined;
  /** Fetches the timeline again (a new label shows on the scrubber). */
  refresh(): Promise<void>;
  /** Draws the page again. */
  update(): void;
}

const mib = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${n} bytes`);

export class PanelActions {
  private text = '';
  private labelBusy = false;
  private labelNote: { ok: boolean; text: string } | undefined;
  private job: UiJob | undefined;
  private out = '';
  private jobError: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: ActionsHost) {}

  /** Shows the job the server ran last (one may be running when the page opens). */
  async load(): Promise<void> {
    const r = await getJob();
    this.out = r.out;
    this.job = r.job ?? undefined;
    if (this.job?.state === 'running') this.poll();
    this.host.update();
  }

  /** Drops the note of the last label (another journal is shown now); the job stays, as the server's. */
  forgetLabelNote(): void {
    this.labelNote = undefined;
    this.text = '';
  }

  private async label(): Promise<void> {
    const at = this.host.point();
    if (!at || this.labelBusy) return;
    this.labelBusy = true;
    this.host.update();
    try {
      const { label } = await addLabel(at, this.text);
      this.labelNote = { ok: true, text: `labelled epoch ${label.epoch} "${label.text}"` };
      this.text = '';
      await this.host.refresh();
    } catch (e) {
      this.labelNote = { ok: false, text: (e as Error).message };
    }
    this.labelBusy = false;
    this.host.update();
  }

  private async start(kind: UiJobKind): Promise<void> {
    const at = this.host.point();
    if (!at) return;
    this.jobError = undefined;
    try {
      const r = await startJob(kind, at);
      this.out = r.out;
      this.job = r.job;
      this.poll();
    } catch (e) {
      this.jobError = (e as Error).message;
    }
    this.host.update();
  }

  private poll(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      getJob()
        .then((r) => {
          this.job = r.job ?? undefined;
          if (this.job?.state === 'running') this.poll();
        })
        .catch((e: unknown) => {
          this.jobError = (e as Error).message;
        })
        .finally(() => this.host.update());
    }, POLL_MS);
  }

  view() {
    const at = this.host.point();
    const running = this.job?.state === 'running';
    return html`<h2>Label it</h2>
      <form
        class="label-form"
        @submit=${(e: Event) => {
          e.preventDefault();
          void this.label();
        }}
      >
        <input id="label-text" type="text" maxlength="1024" placeholder="a label for this epoch" .value=${this.text} @input=${(e: Event) => (this.text = (e.target as HTMLInputElement).value)} />
        <button id="label-it" type="submit" ?disabled=${!at || this.labelBusy}>Label it</button>
      </form>
      ${this.labelNote ? html`<p id="label-note" class=${this.labelNote.ok ? 'muted' : 'error'} data-ok=${String(this.labelNote.ok)}>${this.labelNote.text}</p>` : nothing}
      <h2>Fold / export</h2>
      <div class="buttons">
        <button id="fold" ?disabled=${!at || running} @click=${() => void this.start('fold')}>Fold</button>
        <button id="export" ?disabled=${!at || running} @click=${() => void this.start('export')}>Export</button>
      </div>
      <p class="muted">into ${this.out || '…'}</p>
      ${this.jobError ? html`<p class="error" id="job-error">${this.jobError}</p>` : nothing} ${this.job ? this.jobView(this.job) : nothing}`;
  }

  private jobView(j: UiJob) {
    const pct = j.total ? Math.floor((100 * j.done) / j.total) : 0;
    const what = `${j.kind} ${j.at}`;
    if (j.state === 'running') {
      const converting = j.kind === 'export' && j.total > 0 && j.done >= j.total;
      return html`<div id="job" data-state="running" data-kind=${j.kind}>
        ${what}: ${converting ? 'converting…' : `${pct}%`}
        <progress max="100" .value=${converting ? 100 : pct}></progress>
      </div>`;
    }
    if (j.state === 'failed') {
      return html`<div id="job" data-state="failed" data-kind=${j.kind} data-code=${j.error?.code ?? ''}><span class="error">${what} failed: ${j.error?.message} [${j.error?.code}]</span></div>`;
    }
    const r = j.result!;
    return html`<div id="job" data-state="done" data-kind=${j.kind} data-dir=${r.dir}>
      <div>${what} done: <code id="job-dir">${r.dir}</code></div>
      <div class="muted">epoch ${r.epoch}, seq ${r.seq}, state root <code id="job-root">${r.stateRoot ?? '—'}</code></div>
      <ul class="job-files">
        ${r.files.map((f) => html`<li data-file=${f.file} data-size=${f.size}>${f.file} <span class="muted">${mib(f.size)}</span></li>`)}
      </ul>
      <div class="muted">${r.files.length} files, ${mib(r.bytes)}</div>
    </div>`;
  }
}
