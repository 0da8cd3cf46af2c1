import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendStatus } from './http-reply.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** The page's bundle, made by `npm run build` (journal-tools/build-ui.mjs): dist/ui beside dist/src. */
function pageDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui');
}

/** Where index.html names its scripts and styles with the token (every request carries it). */
const TOKEN_PLACEHOLDER = /__TTJ_TOKEN__/g;

/** Sends a file of the page's bundle (`/` is index.html, with the token put in); 404 for anything outside it. */
export async function sendStatic(path: string, token: string, res: ServerResponse): Promise<void> {
  const root = pageDir();
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  if (!file.startsWith(root + sep)) return sendStatus(res, 404, 'not found');
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return sendStatus(res, 404, path === '/' ? 'the page is not built (npm run build)' : 'not found');
  }
  if (file.endsWith('.html')) body = Buffer.from(body.toString('utf8').replace(TOKEN_PLACEHOLDER, token));
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(body);
}
