import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, TtjError } from '../errors.js';
import { diff } from '../journal/diff.js';
import { checkLabelText, labelJournal } from '../journal/label.js';
import { startFork } from './fork-request.js';
import type { FamilyListing } from './journal-family.js';
import { sendAudio } from './audio-reply.js';
import { sendFrame } from './frame-image.js';
import { sendJson, sendStatus } from './http-reply.js';
import { streamCommits } from './live-events.js';
import { sendStatic } from './static-files.js';
import type { UiJobs } from './jobs.js';
import { timeline } from './timeline.js';
import type { OpenFamily, OpenMember } from './open-family.js';
import type { VmSession } from './vm-session.js';

/** What a route handler is given: the journals served (each with its disk lanes and verification), the server's VM session, its stop signal and token. */
export interface RouteContext {
  family: OpenFamily;
  vm: VmSession;
  closing: AbortSignal;
  /** The server's token (put into the page's links to its scripts and styles). */
  token: string;
  /** The journals' password, for what opens one again (a label: its writer). */
  password?: string;
  /** The page's fold and export jobs (one at a time, on any member). */
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
 * the JSON API (docs/ui.md). A journal's routes take `?journal=ID` (a journal id of the
 * family; default: the journal the server was started on). Failures are thrown as
 * TtjErrors (the server sends them).
 */
export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (path === '/api/family' && method === 'GET') {
    const listing: FamilyListing = { started: ctx.family.startId, members: await ctx.family.refresh(), recording: ctx.vm.info?.fork?.journal ?? null };
    return sendJson(res, listing);
  }
  if (path === '/api/forks' && method === 'POST') return sendJson(res, await startFork(ctx, await jsonBody(req)));
  const needsJournal = path.startsWith('/api/') && path !== '/api/vm';
  if (!needsJournal) return otherRoute(ctx, req, res, url);
  return journalRoute(ctx, await ctx.family.get(url.searchParams.get('journal')), req, res, url);
}

/** The routes of one journal of the family (`?journal=ID`). */
async function journalRoute(ctx: RouteContext, m: OpenMember, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const { journal: j, diskLanes, verify } = m;
  const frame = /^\/api\/frames\/(\d+)\.png$/.exec(path);
  if (method === 'GET' && frame) return sendFrame(j, Number(frame[1]), res, req.headers['if-none-match']);
  if (method === 'GET' && path === '/api/timeline') return sendJson(res, await timeline(j));
  if (method === 'GET' && path === '/api/audio') return sendAudio(j, url, res);
  if (method === 'GET' && path === '/api/lanes') return sendJson(res, await diskLanes.update());
  if (method === 'GET' && path === '/api/diff') return sendJson(res, await diff(j, { a: param(url, 'a'), b: param(url, 'b') }));
  if (method === 'GET' && path === '/api/live') {
    const after = url.searchParams.get('after');
    return streamCommits(j, req, res, after === null ? undefined : Number(after), ctx.closing);
  }
  if (path === '/api/verify') {
    if (method === 'GET') return sendJson(res, await verify.at(param(url, 'at')));
    if (method === 'POST') {
      const at = (await jsonBody(req)).at;
      if (typeof at !== 'string' || !at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'POST /api/verify needs {"at": POINT}');
      return sendJson(res, await verify.startDeep(at));
    }
  }
  if (method === 'POST' && path === '/api/labels') {
    const { at, text } = await jsonBody(req);
    if (typeof at !== 'string' || !at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'POST /api/labels needs {"at": POINT, "text": LABEL}');
    return sendJson(res, { label: await labelJournal(m.member.location, { text: checkLabelText(text), at, password: ctx.password }) });
  }
  if (path === '/api/jobs') {
    if (method === 'GET') return sendJson(res, { out: ctx.jobs.out, job: ctx.jobs.current ?? null });
    if (method === 'POST') {
      const { kind, at } = await jsonBody(req);
      return sendJson(res, { out: ctx.jobs.out, job: ctx.jobs.start(kind, at, { journal: j, location: m.member.location, id: m.member.id }) }, 202);
    }
  }
  return sendStatus(res, 404, `no such API: ${method} ${path}`);
}

/** The VM routes and the page's files. */
async function otherRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (path === '/api/vm') {
    if (method === 'GET') return sendJson(res, { vm: ctx.vm.info ?? null });
    if (method === 'POST') {
      const body = await jsonBody(req);
      if (typeof body.at !== 'string' || !body.at) throw new TtjError(ErrorCodes.BAD_ARGUMENT, 'POST /api/vm needs {"at": POINT}');
      const { member } = await ctx.family.get(typeof body.journal === 'string' ? body.journal : null);
      return sendJson(res, { vm: await ctx.vm.start(member.location, body.at) });
    }
    if (method === 'DELETE') {
      await ctx.vm.stop();
      return sendJson(res, { vm: null });
    }
  }
  if (path.startsWith('/api/')) return sendStatus(res, 404, `no such API: ${method} ${path}`);
  if (method !== 'GET') return sendStatus(res, 405, 'method not allowed');
  return sendStatic(path, ctx.token, res);
}
