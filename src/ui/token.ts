import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A new random access token for one `ttj ui` server (URL-safe, 128 bits). */
export function newToken(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * True when the request URL carries the server's token as `?token=` (compared in
 * constant time). Every request is checked, the page's own and its API calls, images
 * and event stream alike, so another local user who finds the port cannot use it.
 */
export function tokenMatches(url: URL, token: string): boolean {
  const given = Buffer.from(url.searchParams.get('token') ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
