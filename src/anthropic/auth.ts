/**
 * The client API's side of client keys, for Koa: who sent the request (every client route), and the
 * key's permission and limits before a messages request is admitted. The logic is in src/keys/gate.ts;
 * these wrappers only move its results in and out of the Koa context.
 */
import type { Context, Next } from 'koa';
import type { ClientKeyGate, KeyAdmission } from '../keys/gate.js';
import type { ClientKeyContext } from '../keys/key-context.js';

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
export async function admitClientKey(ctx: Context, gate: ClientKeyGate, model: string): Promise<KeyAdmission> {
  const key = clientKeyOf(ctx);
  ((ctx.state.logFields ??= {}) as Record<string, unknown>).keyId = key.id;
  try {
    const admission = await gate.admit(key, { model });
    ctx.set(admission.headers);
    return admission;
  } catch (err) {
    const headers = (err as { headers?: Record<string, string> }).headers;
    if (headers) ctx.set(headers);
    throw err;
  }
}
