/**
 * Admin API authentication: a single shared admin key, separate from the client key.
 */
import type { Middleware } from 'koa';
import { AuthenticationError, NotFoundError } from '../errors.js';
import { keysMatch, presentedKey } from '../http/api-key.js';

/** kiro.rs's wording, kept so scripts written against it still match. */
export const INVALID_ADMIN_KEY_MESSAGE = 'Invalid or missing admin API key';

export const ADMIN_DISABLED_MESSAGE =
  'The admin API is disabled: set adminApiKey in config.json or the KIRO_ADMIN_API_KEY environment variable';

/** kiro.rs treats a whitespace-only key as "not configured". */
export function isAdminEnabled(adminApiKey: string): boolean {
  return adminApiKey.trim().length > 0;
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
