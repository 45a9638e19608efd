/**
 * The answer to a request that failed before its response started: Anthropic's error envelope (or
 * another API's, through an ErrorRenderer) with its status, `retry-after` when the error carries one, and `x-should-retry` as Anthropic
 * sends it. Koa's error middleware (server.ts) and the routes served outside Koa both use it.
 */
import { errorOfStatus, GatewayError, toAnthropicError, toGatewayError, type ErrorRenderer } from '../errors.js';

export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  /** The error body of the request's API (Anthropic's envelope by default). */
  body: ReturnType<ErrorRenderer>['body'];
  /** The gateway's own error type, for the log line and metrics whatever the API's shape. */
  errorType: string;
}

/** Maps errors thrown by Koa itself or by libraries (http-errors style) into the gateway hierarchy. */
export function normaliseError(err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string };
  const status = e?.status ?? e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return err;
  return errorOfStatus(status, e.expose && e.message ? e.message : 'Invalid request', { cause: err });
}

/**
 * Status, headers and body answering `thrown`, rendered by `render` (Anthropic's envelope unless the
 * request's API has its own); `requestId` goes into the body when there is one.
 */
export function errorAnswer(thrown: unknown, requestId?: string, render: ErrorRenderer = toAnthropicError): ErrorAnswer {
  const err = normaliseError(thrown);
  const { status, body } = render(err, requestId);
  const headers: Record<string, string> = {};
  const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  if (typeof retryAfter === 'number' && retryAfter > 0) headers['retry-after'] = String(retryAfter);
  headers['x-should-retry'] = String(status === 429 || status >= 500);
  return { status, headers, body, errorType: toGatewayError(err).type };
}
