/**
 * One client request and its answer as a handler sees them, whatever HTTP layer carries them:
 * node's request and response, plus what the request's observability set up (id, logger, span,
 * the fields of its log line). The messages pipeline takes this instead of Koa's context, so it
 * can be served straight from node:http (anthropic/messages-route.ts) and reused by other APIs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { RequestLogFields } from '../observability/logger.js';

export interface Exchange {
  readonly req: IncomingMessage;
  /** Headers set with `res.setHeader` before the answer go out with it (SSE head included). */
  readonly res: ServerResponse;
  /** The request id (`request-id` header, error bodies), when the request logger assigned one. */
  readonly requestId: string | undefined;
  /** Logger bound to the request id; undefined without a logger. */
  readonly log: Logger | undefined;
  /** Fields of the request's log line, server span and metrics; handlers add theirs. */
  readonly logFields: RequestLogFields;
  /** The request's server span, when tracing is on. */
  readonly span: Span | undefined;
}

/** A request header as one string ('' when absent; the first of a repeated one). */
export function headerOf(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? (value[0] ?? '') : '';
}

/** Sets each of `headers` on the response. */
export function setHeaders(res: ServerResponse, headers: Readonly<Record<string, string>>): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
}

/** A whole JSON answer, as Koa writes `ctx.body = object` (compact JSON, UTF-8, with its length). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}
