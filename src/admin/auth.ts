/**
 * Admin API authentication: a single shared admin key, separate from the client key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { AuthenticationError, NotFoundError } from '../errors.js';

/** kiro.rs's wording, kept so scripts written against it still match. */
export const INVALID_ADMIN_KEY_MESSAGE = 'Invalid or missing admin API key';

export const ADMIN_DISABLED_MESSAGE =
  'The admin API is disabled: set adminApiKey in config.json or the KIRO_ADMIN_API_KEY environment variable';

/** kiro.rs treats a whitespace-only key as "not configured". */
export function isAdminEnabled(adminApiKey: string): boolean {
  return adminApiKey.trim().length > 0;
}

/** The key a request presents: `x-api-key`, else `Authorization: Bearer <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers['x-api-key'];
  const xApiKey = Array.isArray(header) ? header[0] : header;
  if (xApiKey) return xApiKey;
  const authorization = headers['authorization'];
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  const match = value ? /^Bearer\s+(.+)$/i.exec(value.trim()) : null;
  return match ? match[1].trim() : undefined;
}

/**
 * Constant-time comparison. Both sides are hashed first so `timingSafeEqual` always compares equal
 * lengths and the key's length does not leak through an early return.
 */
export function keysMatch(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Rejects every request when the admin API is disabled (404, so its existence is not advertised
 * as "forbidden") and every request without the right key (401).
 */
export function adminAuth(adminApiKey: string): Middleware {
  const enabled = isAdminEnabled(adminApiKey);
  return async (ctx, next) => {
    if (!enabled) throw new NotFoundError(ADMIN_DISABLED_MESSAGE);
    const key = presentedKey(ctx.headers);
    if (key === undefined || !keysMatch(key, adminApiKey)) throw new AuthenticationError(INVALID_ADMIN_KEY_MESSAGE);
    await next();
  };
}
