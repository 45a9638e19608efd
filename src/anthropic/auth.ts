import type { Context, Next } from 'koa';
import { AuthenticationError } from '../errors.js';
import { keyMatcher, presentedKey } from '../http/api-key.js';

/** Koa middleware requiring the client API key; the expected digest is computed once. */
export function requireApiKey(expectedKey: string, realm = 'API key') {
  const matches = keyMatcher(expectedKey);
  return async (ctx: Context, next: Next): Promise<void> => {
    const key = presentedKey(ctx.headers);
    if (key === undefined) {
      throw new AuthenticationError(`Missing ${realm}: send it in the x-api-key header or as Authorization: Bearer <key>`);
    }
    if (!expectedKey) {
      throw new AuthenticationError('The gateway has no client API key configured: set apiKey in config.json or KIRO_CLIENT_API_KEY');
    }
    if (!matches(key)) {
      throw new AuthenticationError(`Invalid ${realm}`);
    }
    await next();
  };
}
