/**
 * POST /v1/messages and /cc/v1/messages straight from node:http, without Koa: nearly all of a
 * gateway's traffic. Koa, its router and the middleware chain took about a fifth of a small
 * streamed request's CPU: without them it is 0.84× at 50 streams and 0.79× at 200 (bench/README.md).
 *
 * What Koa's chain does for these routes is done here, in the same order and through the same
 * helpers: the server span, request id and log line, and HTTP metrics (request-scope.ts); the
 * canonical path (only the two exact paths come here, so nothing to refuse); CORS; the client key
 * (the gate's `authenticate`, the one check every client route uses); the pipeline (messages.ts,
 * which also admits the key's limits and accounts its usage); errors in Anthropic's shape
 * (error-answer.ts), 5xx reported to `onServerError`. Any other request, and
 * these paths in any other spelling (absolute-form targets), go to Koa, which serves them with
 * the same `serveMessagesExchange`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { Exchange } from '../http/exchange.js';
import { sendJson, setHeaders } from '../http/exchange.js';
import { errorAnswer } from '../http/error-answer.js';
import type { ObservabilityState } from '../observability/logger.js';
import type { RequestScopes } from '../observability/request-scope.js';
import { handleMessages, type MessagesDeps } from './messages.js';
import type { StreamMode } from './responses.js';
import { setCorsHeaders } from '../http/cors.js';

/** The messages paths and how each answers a stream. */
export const MESSAGES_ROUTES: Readonly<Record<string, StreamMode>> = Object.freeze({ '/v1/messages': 'live', '/cc/v1/messages': 'buffered' });

export interface MessagesRouteDeps {
  /** The pipeline's dependencies; `messages.keys` authenticates the client. */
  messages: MessagesDeps;
  /** Called with errors answered with a 5xx, for the log. */
  onServerError?: (err: unknown, exchange: Exchange) => void;
}

/**
 * Serves one messages request on `exchange`: the client key, then the pipeline; any failure before
 * the answer started is answered here in Anthropic's shape (never thrown to the caller).
 */
export async function serveMessagesExchange(exchange: Exchange, mode: StreamMode, deps: MessagesRouteDeps): Promise<void> {
  try {
    // Nothing is answered within the 'request' event itself: a malformed body that came in the
    // same packet as the head is for Node's parser to answer (400, http/client-errors.ts) once it
    // has read that packet, as it was under Koa, whose chain answers a few promise turns later.
    await undefined;
    const key = deps.messages.keys.authenticate(exchange.req.headers);
    await handleMessages(exchange, deps.messages, mode, key);
  } catch (thrown) {
    const { status, headers, body, errorType } = errorAnswer(thrown, exchange.requestId);
    if (status >= 500) deps.onServerError?.(thrown, exchange);
    const res = exchange.res;
    if (res.headersSent || res.destroyed) return;
    setHeaders(res, headers);
    exchange.logFields.errorType = errorType;
    // The body was maybe not read (refused before reading it): Node drains it before the next request.
    sendJson(res, status, body);
  }
}

/**
 * The front of the server's request listener: serves POST /v1/messages and /cc/v1/messages (query
 * strings allowed) and returns true, or returns false for Koa to serve the request.
 */
export function createMessagesRoute(deps: MessagesRouteDeps, scopes: RequestScopes): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const mode = Object.hasOwn(MESSAGES_ROUTES, path) ? MESSAGES_ROUTES[path] : undefined;
    if (mode === undefined) return false;
    void scopes(req, res, path, (exchange) => {
      setCorsHeaders(req, res);
      return serveMessagesExchange(exchange, mode, deps);
    });
    return true;
  };
}

/** The exchange of a request Koa serves (its observability middlewares filled `ctx.state`). */
export function exchangeOfKoa(ctx: Context): Exchange {
  const state = ctx.state as ObservabilityState;
  return { req: ctx.req, res: ctx.res, requestId: state.requestId, log: state.log, logFields: (state.logFields ??= {}), span: state.span };
}

/** Koa route handler for the same paths in spellings the front does not take. */
export function koaMessagesHandler(mode: StreamMode, deps: MessagesRouteDeps): (ctx: Context) => Promise<void> {
  return (ctx) => {
    // The pipeline answers on the response itself, errors included.
    ctx.respond = false;
    return serveMessagesExchange(exchangeOfKoa(ctx), mode, deps);
  };
}
