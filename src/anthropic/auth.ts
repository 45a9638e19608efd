/**
 * Client authentication: the one check of a client request's API key, used by every client route
 * (the messages route outside Koa and, through `requireApiKey`, the Koa routes).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import { AuthenticationError } from '../errors.js';
import { keyMatcher, presentedKey } from '../http/api-key.js';

/** Checks a client request's headers; throws AuthenticationError (401) when the key is missing or wrong. */
export type ClientAuthenticator = (headers: IncomingHttpHeaders) => void;

/** The client key check for `expectedKey` (`x-api-key` or `Authorization: Bearer`); its digest is computed once. */
export function clientAuthenticator(expectedKey: string, realm = 'API key'): ClientAuthenticator {
  const matches = keyMatcher(expectedKey);
  return (headers) => {
    const key = presentedKey(headers);
    if (key === undefined) {
      throw new AuthenticationError(`Missing ${realm}: send it in the x-api-key header or as Authorization: Bearer <key>`);
    }
    if (!expectedKey) {
      throw new AuthenticationError('The gateway has no client API key configured: set apiKey in config.json or KIRO_CLIENT_API_KEY');
    }
    if (!matches(key)) {
      throw new AuthenticationError(`Invalid ${realm}`);
    }
  };
}

/** Koa middleware running `authenticate` before the route. */
export function requireApiKey(authenticate: ClientAuthenticator) {
  return async (ctx: Context, next: Next): Promise<void> => {
    authenticate(ctx.headers);
    await next();
  };
}
