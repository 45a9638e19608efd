/**
 * One canonical request path for every layer. Routers, the admin key check, the admin UI and the
 * health routes all read `ctx.path`; this middleware, mounted before all of them, answers 404 to
 * any path that another HTTP layer (a proxy, a framework, a future router option) could read as a
 * different path: percent-encoding, `;` parameters, backslashes, dot segments, empty segments.
 * What passes is compared byte for byte by every layer: routers are case-sensitive and strict
 * (see `router.ts`), so `/API/admin` or `/v1/messages/` is simply an unknown route.
 */
import type { Middleware } from 'koa';
import { NotFoundError } from '../errors.js';

/** Unreserved characters (RFC 3986 §2.3) and `/`: every route and admin UI file name fits. */
const PATH_CHARACTERS = /^\/[A-Za-z0-9._~/-]*$/;

/** Why `path` is not canonical, or undefined when it is. A trailing `/` is allowed (`/admin/`). */
export function nonCanonicalReason(path: string): string | undefined {
  if (!PATH_CHARACTERS.test(path)) {
    return 'only letters, digits, "-", ".", "_", "~" and "/" are accepted in paths (no percent-encoding, ";" or "\\")';
  }
  const segments = path.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '.' || segment === '..') return 'dot segments ("." and "..") are not accepted in paths';
    if (segment === '' && i < segments.length - 1) return 'empty path segments ("//") are not accepted';
  }
  return undefined;
}

/** Koa middleware: a non-canonical path is a 404 before any routing or authentication sees it. */
export const requireCanonicalPath: Middleware = async (ctx, next) => {
  const reason = nonCanonicalReason(ctx.path);
  if (reason) throw new NotFoundError(`No route for this path: ${reason}`);
  await next();
};
