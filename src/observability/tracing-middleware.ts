/**
 * The server span of each request: a Koa middleware that continues the incoming trace context
 * (through the propagators `OTEL_PROPAGATORS` chose; W3C trace context by default, baggage dropped), runs
 * the rest of the chain inside the span's context, and ends the span once the response has ended.
 */
import type { IncomingMessage } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context as OtelContext,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from './otel-attributes.js';
import type { Context, Middleware, Next } from 'koa';
import { matchedRoute, responseStatus, whenResponseDone, type ObservabilityState, type RequestLogFields, type ResponseEnd } from './logger.js';
import { isFailureOutcome } from './metrics.js';
import { DISABLED_TRACER, SPAN_ATTRS, recordSpanError, safeString } from './span-helpers.js';

/** Options of {@link createTracingMiddleware}. */
export interface TracingMiddlewareOptions {
  /** Incoming `traceparent` is honoured (default true); turn off on an untrusted edge. */
  trustIncomingTraceContext?: boolean;
}

const MAX_PATH_LENGTH = 256;

/**
 * Koa middleware creating the server span of each request: continues an incoming trace context
 * (`traceparent`), keeps the span on `ctx.state.span` (the `parent` for the request's child spans)
 * and runs the rest of the chain in its context (so instrumentation spans of the request find it),
 * and ends it once the response has ended (streamed responses included). The
 * name becomes `METHOD /route/template` when @koa/router matched a route. At the end it sets
 * `http.route`, `http.response.status_code`, the request id and the model / credential / outcome /
 * stop reason / token fields of `ctx.state.logFields`; 5xx, a thrown error or a failure outcome
 * mark it failed. With the disabled tracer it is a pass-through. Mount it first.
 */
export function createTracingMiddleware(tracer: Tracer, opts: TracingMiddlewareOptions = {}): Middleware {
  if (tracer === DISABLED_TRACER) return (_ctx, next) => next();
  const trustIncoming = opts.trustIncomingTraceContext ?? true;

  return function tracingMiddleware(ctx: Context, next: Next): Promise<void> {
    const { span, context: spanContext } = startServerSpan(tracer, ctx.req, ctx.path, ctx.protocol, trustIncoming);
    (ctx.state as ObservabilityState).span = span;
    const run = () => context.with(spanContext, next);
    return whenResponseDone(ctx.res, run, (end) => {
      const state = ctx.state as ObservabilityState;
      endServerSpan(span, {
        method: ctx.method,
        route: matchedRoute(ctx),
        status: responseStatus(ctx, end),
        requestId: state.requestId,
        logFields: state.logFields,
        end,
      });
    });
  };
}

/**
 * Starts the server span of a request (what {@link createTracingMiddleware} does, without Koa):
 * continues an incoming trace context, baggage dropped. Returns the span and the context to run
 * the request in, so the instrumentations' spans of the request find it.
 */
export function startServerSpan(
  tracer: Tracer,
  req: IncomingMessage,
  path: string,
  scheme: string,
  trustIncoming = true,
): { span: Span; context: OtelContext } {
  // Baggage is dropped: the gateway does not use it, and the undici instrumentation would forward
  // whatever a client put there to Kiro with every upstream call.
  const parent = trustIncoming ? propagation.deleteBaggage(propagation.extract(ROOT_CONTEXT, req.headers)) : ROOT_CONTEXT;
  const method = req.method ?? 'GET';
  const shortPath = path.length > MAX_PATH_LENGTH ? path.slice(0, MAX_PATH_LENGTH) : path;
  const span = tracer.startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      // The raw path can carry anything a client put there (a misplaced key): scrubbed like any string attribute.
      attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: safeString(shortPath), [ATTR_URL_SCHEME]: scheme },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** What {@link endServerSpan} records. */
export interface ServerSpanEnd {
  method: string;
  /** The route template that served the request, if any. */
  route: string | undefined;
  status: number;
  requestId: string | undefined;
  logFields: RequestLogFields | undefined;
  end: ResponseEnd;
}

/**
 * Ends a server span once the response is over: its name becomes `METHOD /route/template` when a
 * route matched; `http.route`, `http.response.status_code`, the request id and the model /
 * credential / outcome / stop reason / token fields; 5xx, a thrown error or a failure outcome mark
 * it failed.
 */
export function endServerSpan(span: Span, facts: ServerSpanEnd): void {
  if (!span.isRecording()) {
    span.end();
    return;
  }
  const { route, status, end } = facts;
  if (route !== undefined) {
    span.updateName(`${facts.method} ${route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (facts.requestId) span.setAttribute(SPAN_ATTRS.requestId, facts.requestId);
  if (facts.logFields) span.setAttributes(fieldAttributes(facts.logFields));
  if (end.clientDisconnected) span.setAttribute(SPAN_ATTRS.clientDisconnected, true);

  const outcome = facts.logFields?.outcome;
  if (end.error !== undefined && status >= 500) {
    recordSpanError(span, end.error);
  } else if (status >= 500) {
    span.setAttribute(ATTR_ERROR_TYPE, String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if (typeof outcome === 'string' && isFailureOutcome(outcome)) {
    // e.g. a stream cut mid-way after a 200: the status says ok, the outcome does not.
    span.setAttribute(ATTR_ERROR_TYPE, outcome);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.end();
}

/** Only known, non-secret fields become attributes (never the credential fingerprint or extras). */
function fieldAttributes(f: RequestLogFields): Attributes {
  const a: Attributes = {};
  if (typeof f.model === 'string') a[SPAN_ATTRS.model] = safeString(f.model);
  if (typeof f.credentialId === 'number') a[SPAN_ATTRS.credentialId] = f.credentialId;
  if (typeof f.outcome === 'string') a[SPAN_ATTRS.outcome] = f.outcome;
  if (typeof f.stopReason === 'string') a[SPAN_ATTRS.stopReason] = f.stopReason;
  if (typeof f.inputTokens === 'number') a[SPAN_ATTRS.inputTokens] = f.inputTokens;
  if (typeof f.outputTokens === 'number') a[SPAN_ATTRS.outputTokens] = f.outputTokens;
  if (typeof f.attempts === 'number') a[SPAN_ATTRS.attempts] = f.attempts;
  if (typeof f.stream === 'boolean') a[SPAN_ATTRS.stream] = f.stream;
  return a;
}

