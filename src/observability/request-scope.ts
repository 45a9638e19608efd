/**
 * The observability of a request served outside Koa (anthropic/messages-route.ts): what the
 * tracing, request-logger and metrics middlewares give every Koa request, in the same order and
 * through the same helpers — the server span (the request runs in its context), the request id
 * with its headers and child logger, one log line, and the HTTP metrics, recorded once the
 * response is over (streamed answers included).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { context, type Span, type Tracer } from '@opentelemetry/api';
import type { Exchange } from '../http/exchange.js';
import { requestLogStarter, sentStatus, whenResponseDone, type RequestLog, type RequestLogFields, type RequestLoggerOptions } from './logger.js';
import type { GatewayMetrics } from './metrics.js';
import { DISABLED_TRACER } from './span-helpers.js';
import { endServerSpan, startServerSpan } from './tracing-middleware.js';
import type { Logger } from 'pino';

/** The parts of the observability a gateway runs with (each optional, as for the middlewares). */
export interface RequestScopeOptions {
  logger?: Logger;
  loggerOptions?: RequestLoggerOptions;
  metrics?: GatewayMetrics;
  /** The live tracer; none (or the disabled one) means no server span. */
  tracer?: Tracer;
}

/**
 * Serves one request of `route` (a route template, the metrics' and span's label): `handle` gets
 * the exchange and must answer every outcome itself (errors included), as Koa's error middleware
 * does inside the observability middlewares.
 */
export type RequestScopes = (req: IncomingMessage, res: ServerResponse, route: string, handle: (exchange: Exchange) => Promise<void>) => Promise<void>;

/** `x-forwarded-proto` as Koa reads it with `proxy: true`, else the socket's own protocol. */
function schemeOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-proto'];
  if (typeof forwarded === 'string' && forwarded !== '') return forwarded.split(/\s*,\s*/, 1)[0]!;
  return (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
}

export function createRequestScopes(opts: RequestScopeOptions): RequestScopes {
  const tracer = opts.tracer && opts.tracer !== DISABLED_TRACER ? opts.tracer : undefined;
  const startLog = opts.logger ? requestLogStarter(opts.logger, opts.loggerOptions) : undefined;
  const metrics = opts.metrics;

  return (req, res, route, handle) => {
    const startedAt = performance.now();
    let span: Span | undefined;
    let spanContext;
    if (tracer) ({ span, context: spanContext } = startServerSpan(tracer, req, route, schemeOf(req)));
    const request: RequestLog | undefined = startLog?.(req, res, span);
    const exchange = new ScopedExchange(req, res, request, span);
    const logFields = exchange.logFields;
    const run = spanContext ? () => context.with(spanContext, handle, undefined, exchange) : () => handle(exchange);
    return whenResponseDone(res, run, (end) => {
      // Every outcome is answered by `handle`: an unsent answer means the client left first.
      const status = sentStatus(res, end, 499);
      metrics?.recordHttpRequest(route, req.method ?? 'GET', status, (end.endedAt - startedAt) / 1000);
      if (end.clientDisconnected) metrics?.recordClientDisconnect();
      request?.finish(route, status, end, logFields);
      if (span) endServerSpan(span, { method: req.method ?? 'GET', route, status, requestId: request?.requestId, logFields, end });
    });
  };
}

/** The exchange of a request served here (a class: one object per request, no closures). */
class ScopedExchange implements Exchange {
  readonly requestId: string | undefined;
  readonly logFields: RequestLogFields = {};

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly request: RequestLog | undefined,
    readonly span: Span | undefined,
  ) {
    this.requestId = request?.requestId;
  }

  /** The request's child logger, made on first use. */
  get log(): Logger | undefined {
    return this.request?.log;
  }
}
