/**
 * The client API's side of client keys: who sent the request, and the key's permission and limits
 * before a messages request is admitted. The logic is in src/keys/gate.ts (its `authenticate` is
 * the one check of a client key, for every client route: the messages route outside Koa and,
 * through `requireClientKey`, the Koa routes); these wrappers move its results in and out of the
 * request (Koa's context, or the Exchange of the messages pipeline).
 */
import type { Context, Next } from 'koa';
import type { ClientKeyGate, KeyAdmission } from '../keys/gate.js';
import type { ClientKeyContext } from '../keys/key-context.js';
import { setHeaders, type Exchange } from '../http/exchange.js';

/** Authenticates the request's key into `ctx.state.clientKey` (401, or 403 for a disabled key). */
export function requireClientKey(gate: ClientKeyGate) {
  return async (ctx: Context, next: Next): Promise<void> => {
    ctx.state.clientKey = gate.authenticate(ctx.headers);
    await next();
  };
}

/** The key `requireClientKey` found. */
export function clientKeyOf(ctx: Context): ClientKeyContext {
  return ctx.state.clientKey as ClientKeyContext;
}

/**
 * Before admission: the key may use the model, and every limit is checked and reserved. Sets the
 * `anthropic-ratelimit-*` headers on the answer, a 429 included. Call `end()` on the result when
 * the request is over.
 */
export async function admitClientKey(exchange: Exchange, gate: ClientKeyGate, key: ClientKeyContext, model: string): Promise<KeyAdmission> {
  exchange.logFields.keyId = key.id;
  try {
    const admission = await gate.admit(key, { model });
    setHeaders(exchange.res, admission.headers);
    return admission;
  } catch (err) {
    const headers = (err as { headers?: Record<string, string> }).headers;
    if (headers) setHeaders(exchange.res, headers);
    throw err;
  }
}
