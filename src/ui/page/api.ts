/** The page's calls to its server: every URL carries the token the page was opened with. */
import type { DiffResult, DiskLanes, FamilyListing, ForkStarted, LabelResult, PointVerification, Timeline, UiJob, UiJobKind, VmInfo } from './types.js';

const token = new URLSearchParams(location.search).get('token') ?? '';
/** The journal of the family the page shows (its id; empty: the one the server was started on). */
let journal = '';

/** Makes every later call address journal `id` of the family. */
export function setJournal(id: string): void {
  journal = id;
}

/** `path` with the token, the journal shown (and `params`) in its query. */
function apiUrl(path: string, params: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), ...(journal ? { journal } : {}), token });
  return `${path}?${q}`;
}

async function call<T>(method: string, path: string, params: Record<string, string | number> = {}, body?: unknown): Promise<T> {
  const res = await fetch(apiUrl(path, params), { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(json.error ? `${json.error.message} [${json.error.code}]` : `${method} ${path}: HTTP ${res.status}`);
  return json;
}

export const getTimeline = () => call<Timeline>('GET', '/api/timeline');
export const getDiskLanes = () => call<DiskLanes>('GET', '/api/lanes');
export const getDiff = (a: string, b: string) => call<DiffResult>('GET', '/api/diff', { a, b });
export const getVm = () => call<{ vm: VmInfo | null }>('GET', '/api/vm');
export const startVm = (at: string) => call<{ vm: VmInfo }>('POST', '/api/vm', {}, { at, journal });
export const getFamily = () => call<FamilyListing>('GET', '/api/family');
/** "Fork and record" at POINT `at` of the journal shown, into a new journal `name` (default: `BASE-fork-N.ttj`) beside it. */
export const startFork = (at: string, name?: string) => call<ForkStarted>('POST', '/api/forks', {}, { at, journal, ...(name ? { name } : {}) });
export const stopVm = () => call<{ vm: null }>('DELETE', '/api/vm');
/** What is proven of a point (the server's verify so far, its signatures, a deep check asked for). */
export const getVerify = (at: string) => call<PointVerification>('GET', '/api/verify', { at });
/** Starts the deep check of a point (its blobs re-read and re-hashed); answers as {@link getVerify}. */
export const startDeepVerify = (at: string) => call<PointVerification>('POST', '/api/verify', {}, { at });
export const addLabel = (at: string, text: string) => call<{ label: LabelResult }>('POST', '/api/labels', {}, { at, text });
export const getJob = () => call<{ out: string; job: UiJob | null }>('GET', '/api/jobs');
export const startJob = (kind: UiJobKind, at: string) => call<{ out: string; job: UiJob }>('POST', '/api/jobs', {}, { kind, at });
/** The PNG of frame `n` as recorded (cached by the browser for good). */
export const frameUrl = (n: number) => apiUrl(`/api/frames/${n}.png`);
export const liveUrl = (after: number) => apiUrl('/api/live', { after });
/** The sound recorded between frames `from` and `to` (a WAV; no content when none was recorded). */
export const audioUrl = (from: number, to: number) => apiUrl('/api/audio', { from, to });
