/** The page's calls to its server: every URL carries the token the page was opened with. */
import type { DiffResult, DiskLanes, LabelResult, Timeline, UiJob, UiJobKind, VmInfo } from './types.js';

const token = new URLSearchParams(location.search).get('token') ?? '';

/** `path` with the token (and `params`) in its query. */
function apiUrl(path: string, params: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), token });
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
export const startVm = (at: string) => call<{ vm: VmInfo }>('POST', '/api/vm', {}, { at });
export const stopVm = () => call<{ vm: null }>('DELETE', '/api/vm');
export const addLabel = (at: string, text: string) => call<{ label: LabelResult }>('POST', '/api/labels', {}, { at, text });
export const getJob = () => call<{ out: string; job: UiJob | null }>('GET', '/api/jobs');
export const startJob = (kind: UiJobKind, at: string) => call<{ out: string; job: UiJob }>('POST', '/api/jobs', {}, { kind, at });
/** The PNG of frame `n` as recorded (cached by the browser for good). */
export const frameUrl = (n: number) => apiUrl(`/api/frames/${n}.png`);
export const liveUrl = (after: number) => apiUrl('/api/live', { after });
/** The sound recorded between frames `from` and `to` (a WAV; no content when none was recorded). */
export const audioUrl = (from: number, to: number) => apiUrl('/api/audio', { from, to });
