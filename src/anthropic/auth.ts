import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AuthenticationError } from '../errors.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The key a client sent: `x-api-key`, else `Authorization: Bearer …`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const header = headers['x-api-key'];
  const xApiKey = Array.isArray(header) ? header[0] : header;
  if (xApiKey) return xApiKey;
  const authorization = headers.authorization;
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  const match = value ? /^Bearer\s+(.+)$/i.exec(value.trim()) : null;
  return match ? match[1]!.trim() : undefined;
}

/**
 * Compares keys in constant time. Both sides are hashed first so the comparison length never
 * depends on (or leaks) the configured key's length.
 */
export function keysMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Koa middleware requiring the client API key; the expected digest is computed once. */
export function requireApiKey(expectedKey: string, realm = 'API key') {
  const expected = digest(expectedKey);
  return async (ctx: Context, next: Next): Promise<void> => {
    const key = presentedKey(ctx.headers);
    if (key === undefined) {
      throw new AuthenticationError(`Missing ${realm}: send it in the x-api-key header or as Authorization: Bearer <key>`);
    }
    if (!expectedKey) {
      throw new AuthenticationError('The gateway has no client API key configured: set apiKey in config.json or KIRO_CLIENT_API_KEY');
    }
    if (!timingSafeEqual(digest(key), expected)) {
      throw new AuthenticationError(`Invalid ${realm}`);
    }
    await next();
  };
}
