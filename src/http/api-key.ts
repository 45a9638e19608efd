/**
 * API keys as both APIs take them (client and admin): where a request carries its key, and a
 * comparison whose time does not depend on the keys.
 */
import { hash, timingSafeEqual } from 'node:crypto';

/** SHA-256 in one call (a Hash object per call cost a few µs on every request). */
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer');
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

/** {@link keysMatch} against one expected key, whose digest is computed once. */
export function keyMatcher(expectedKey: string): (presented: string) => boolean {
  const expected = digest(expectedKey);
  return (presented) => timingSafeEqual(digest(presented), expected);
}
