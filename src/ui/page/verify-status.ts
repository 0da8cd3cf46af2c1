/**
 * The panel's verification of the selected point (`/api/verify`): whether the hash chain
 * and state roots up to it verify (the server's verify, extended as commits arrive), its
 * signatures, and a deep check of its blobs with progress. Asked again while something is
 * still running (the server's verify, a deep check).
 */
import { html, nothing } from 'lit-html';
import { getVerify, startDeepVerify } from './api.js';
import type { PointVerification } from './types.js';

/** How often a status still in progress is asked again, ms. */
const POLL_MS = 400;
/** A point selected for less than this (scrubbing) is not asked about, ms. */
const SETTLE_MS = 120;

let at: string | undefined;
let v: PointVerification | undefined;
let failure: string | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let rerender: () => void = () => undefined;

/** Follows POINT `p` (the selected frame): asks the server about it once the selection settles. `onChange` draws the page again. */
export function verifyPoint(p: string | undefined, onChange: () => void): void {
  rerender = onChange;
  if (p === at) return;
  at = p;
  v = undefined;
  failure = undefined;
  schedule(SETTLE_MS);
}

function schedule(ms: number): void {
  clearTimeout(timer);
  if (at !== undefined) timer = setTimeout(() => void ask(), ms);
}

/** True while the answer may still change without anything appended (the server's verify or a deep check running). */
const unsettled = (x: PointVerification) => x.status === 'pending' || x.journal.running || x.deep?.state === 'running';

async function ask(deep = false): Promise<void> {
  const p = at;
  if (p === undefined) return;
  try {
    const x = deep ? await startDeepVerify(p) : await getVerify(p);
    if (p !== at) return;
    v = x;
    failure = undefined;
    if (unsettled(x)) schedule(POLL_MS);
  } catch (e) {
    if (p === at) failure = (e as Error).message;
  }
  rerender();
}

/** Forgets the point followed (the page now shows another journal of the family): the next {@link verifyPoint} asks again. */
export function verifyForget(): void {
  clearTimeout(timer);
  at = undefined;
  v = undefined;
  failure = undefined;
}

/** The point's status may have changed (a commit arrived): ask again. */
export function verifyRefresh(): void {
  schedule(SETTLE_MS);
}

const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
const code = (e: { code: string; message: string; seq?: number } | undefined) => (e ? html`${e.message} <b class="code">[${e.code}]</b>` : nothing);

function chainLine(x: PointVerification) {
  const j = x.journal;
  switch (x.status) {
    case 'ok':
      return html`✓ hash chain and state roots verify up to seq ${x.seq}${j.indexChecked ? ', index matches' : ''} <span class="muted">(server verified ${j.verifiedSeq + 1} of ${j.headSeq + 1} events)</span>`;
    case 'failed':
      return html`✗ does not verify: ${code(x.error)}`;
    case 'unproven':
      return html`? not proven: the verify stopped at ${code(j.error)}`;
    default:
      return html`… verifying (${j.events} of ${j.headSeq + 1} events)`;
  }
}

function signatureLine(x: PointVerification) {
  const s = x.signatures;
  const fp = (f: string | undefined) => (f ? f.slice(0, 16) : '');
  switch (s.status) {
    case 'ok':
      return html`✓ covered by a valid signature of the trusted key ${fp(s.trusted)}`;
    case 'failed':
      return html`✗ bad signature: ${code(x.journal.error)}`;
    case 'uncovered':
      return html`✗ not covered by a signature of the trusted key ${fp(s.trusted)}`;
    case 'pending':
      return html`… checking signatures`;
    case 'unchecked':
      return html`signed by ${fp(s.signer)} <span class="muted">(not checked: start ttj ui with --trust PUBKEY)</span>`;
    default:
      return html`not signed`;
  }
}

function deepLine(x: PointVerification) {
  const d = x.deep;
  if (!d) return nothing;
  if (d.state === 'running') return html`<progress max=${Math.max(1, d.total)} .value=${d.done}></progress> <span class="muted">${d.done} of ${d.total} blobs</span>`;
  const r = d.report;
  if (d.state === 'ok' && r) return html`✓ ${r.blobs} blobs (${mib(r.bytesChecked)}) of this point re-read and re-hashed`;
  return html`✗ ${code(r?.error)}`;
}

/** The verification section of the panel. */
export function verificationPanel() {
  const x = v;
  const busy = x?.deep?.state === 'running';
  return html`<section
    id="verification"
    data-at=${at ?? ''}
    data-status=${x?.status ?? 'loading'}
    data-code=${x?.error?.code ?? ''}
    data-signatures=${x?.signatures.status ?? ''}
    data-verified-seq=${x?.journal.verifiedSeq ?? ''}
  >
    <h2>Verification</h2>
    ${failure ? html`<p class="error">${failure}</p>` : nothing}
    ${
      x
        ? html`<p class="verify-chain ${x.status}">${chainLine(x)}</p>
            <p class="verify-signatures ${x.signatures.status}">${signatureLine(x)}</p>`
        : html`<p class="muted">…</p>`
    }
    <div class="buttons">
      <button id="verify-deep" ?disabled=${!x || busy} @click=${() => void ask(true)} title="re-read and re-hash every blob this point needs">Verify deep</button>
    </div>
    <p id="verify-deep-status" data-state=${x?.deep?.state ?? ''} data-code=${x?.deep?.report?.error?.code ?? ''}>${x ? deepLine(x) : nothing}</p>
  </section>`;
}
