import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, TtjError } from '../errors.js';
import { diff } from '../journal/diff.js';
import type { Journal } from '../journal/journal.js';
import { checkLabelText, labelJournal } from '../journal/label.js';
import type { DiskLaneTracker } from './disk-lanes.js';
import { sendAudio } from './audio-reply.js';
import { sendFrame } from './frame-image.js';
import { sendJson, sendStatus } from './http-reply.js';
import { streamCommits } from './live-events.js';
import { sendStatic } from './static-files.js';
import type { UiJobs } from './jobs.js';
import { timeline } from './timeline.js';
import type { VmSession } from './vm-session.js';

/** What a route handler is given: the open journal, the server's VM session and disk lanes, its stop signal and token. */
export interface RouteContext {
  journal: Journal;
  vm: VmSession;
  diskLanes: DiskLaneTracker;
  closing: AbortSignal;
  /** The server's token (put into the page's links to its scripts and styles). */
  token: string;
  /** The journal's location and password, for what opens it again (a label: its writer). */
  location: string;
  password?: string;
  /** The page's fold and export jobs. */
  jobs: UiJobs;
}

/** A required query parameter. @throws TtjError BAD_ARGUMENT when absent. */
function param(url: URL, name: string): string {
  const v = url.searchParams.get(name);
  if (!v) throw new TtjError(ErrorCodes.BAD_ARGUMENT, `the request needs ?${name}=`);
  return v;
}

/** Reads a small JSON request body (at most 64 KiB). */
async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 65536) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the request body is too large');
    parts.push(c);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}');
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'the request body is not a JSON object');
}

/**
 * Answers one request whose token has been checked: the page (`/`, its bundle) and
 * the JSON API (docs/ui.md). Failures are thrown as TtjErrors (the server sends them).
 */
export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { journal: j } = ctx;
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const frame = /^\/api\/frames\/(\d+)\.png$/.exec(path);
  if (method === 'GET' && frame) return sendFrame(j, Number(frame[1]), res, req.headers['if-none-match']);
  if (method === 'GET' && path === '/api/timeline') return sendJson(res, await timeline(j));
  if (method === 'GET' && path === '/api/audio') return sendAudio(j, url, res);
  if (method === 'GET' && path === '/api/lanes') return sendJson(res, await ctx.diskLanes.update());
  if (method === 'GET' && path === '/api/diff') return sendJson(res, await diff(j, { a: param(url, 'a'), b: param(url, 'b') }));
  if (method === 'GET' && path === '/api/live') {
    const after = url.searchParams.get('after');
    return streamCommits(j, req, res, after === null ? undefined : Number(after), ctx.closing);
  }
  if (path === '/api/vm') {
    if (method === 'GET') return sendJson(res, { vm: ctx.vm.info ?? null });
    if (method === 'POST') {
      const at = (await jsonBody(req)).at;
      if (typeof at !== 'string' || !at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'POST /api/vm needs {"at": POINT}');
      return sendJson(res, { vm: await ctx.vm.start(at) });
    }
    if (method === 'DELETE') {
      await ctx.vm.stop();
      return sendJson(res, { vm: null });
    }
  }
  if (method === 'POST' && path === '/api/labels') {
    const { at, text } = await jsonBody(req);
    if (typeof at !== 'string' || !at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'POST /api/labels needs {"at": POINT, "text": LABEL}');
    return sendJson(res, { label: await labelJournal(ctx.location, { text: checkLabelText(text), at, password: ctx.password }) });
  }
  if (path === '/api/jobs') {
    if (method === 'GET') return sendJson(res, { out: ctx.jobs.out, job: ctx.jobs.current ?? null });
    if (method === 'POST') {
      const { kind, at } = await jsonBody(req);
      return sendJson(res, { out: ctx.jobs.out, job: ctx.jobs.start(kind, at) }, 202);
    }
  }
  if (path.startsWith('/api/')) return sendStatus(res, 404, `no such API: ${method} ${path}`);
  if (method !== 'GET') return sendStatus(res, 405, 'method not allowed');
  return sendStatic(path, ctx.token, res);
}
