/**
 * OpenTelemetry tracing. Off unless an OTLP endpoint is configured (standard `OTEL_*` variables)
 * or an exporter is passed; when off, the middleware is a pass-through and the helpers call
 * straight through with a non-recording span, so the cost is a branch.
 *
 * Span tree of one request:
 *   POST /v1/messages (server; W3C `traceparent` honoured)
 *   ├─ credential.select
 *   ├─ credential.refresh            (incl. lock wait)
 *   ├─ kiro.generate_assistant_response (client)
 *   └─ kiro.stream                   (events first_frame, first_byte, stream_end)
 *
 * No span ever gets a per-chunk event, and no attribute whose key looks secret (`safeAttributes`).
 *
 * Parent spans are passed explicitly by default (`{ parent: ctx.state.span }`), not found through
 * an AsyncLocalStorage context manager: on Node 20, enabling AsyncLocalStorage adds a promise hook
 * to every promise in the process, which measured 65 → 155 µs for 100 chunks through a 4-stage
 * async-generator pipeline, i.e. ~1 µs per streamed chunk even for untraced work. Pass
 * `asyncContext: true` to `initTracing` to get implicit propagation instead (cheap on Node ≥ 24,
 * where AsyncLocalStorage is built on AsyncContextFrame).
 */
import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  defaultTextMapGetter,
  propagation,
  trace,
  type Attributes,
  type Context as OtelContext,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { Context, Middleware, Next } from 'koa';
import {
  matchedRoute,
  responseStatus,
  whenResponseDone,
  type ObservabilityState,
  type RequestLogFields,
  type ResponseEnd,
} from './logger.js';
import { isFailureOutcome } from './metrics.js';
import { isSecretKey } from './redact.js';

/** Span names used by the gateway, so every module names the same thing the same way. */
export const SPAN_NAMES = {
  credentialSelect: 'credential.select',
  tokenRefresh: 'credential.refresh',
  refreshLockWait: 'credential.refresh.lock_wait',
  upstreamCall: 'kiro.generate_assistant_response',
  stream: 'kiro.stream',
} as const;

/** Attribute keys beyond the OpenTelemetry semantic conventions. */
export const SPAN_ATTRS = {
  model: 'gen_ai.request.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  credentialId: 'kiro.credential.id',
  outcome: 'kiro.outcome',
  stopReason: 'kiro.stop_reason',
  attempts: 'kiro.attempts',
  stream: 'kiro.streaming',
  requestId: 'kiro.request_id',
  clientDisconnected: 'kiro.client_disconnected',
} as const;

/** Span event names of {@link StreamSpan}. */
export const STREAM_EVENTS = { firstFrame: 'first_frame', firstByte: 'first_byte', end: 'stream_end' } as const;

const DEFAULT_SERVICE_NAME = 'kiro-gateway';
const TRACER_NAME = 'kiro-gateway';
const MAX_ATTRIBUTE_LENGTH = 1024;
const MAX_EXCEPTION_MESSAGE_LENGTH = 500;
const OTLP_TRACES_PATH = 'v1/traces';

/** Handed out when tracing is off; recognised by identity so the middleware can step aside. */
const DISABLED_TRACER: Tracer = new ProxyTracerProvider().getTracer(TRACER_NAME);
const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
/** Our own instance: extraction must not depend on whichever global propagator is registered. */
const W3C_PROPAGATOR = new W3CTraceContextPropagator();

/** The tracer of the live `initTracing()` handle; undefined when tracing is off. */
let activeTracer: Tracer | undefined;
/** Whether the live handle registered an AsyncLocalStorage context manager. */
let asyncContextOn = false;
let scrubText: (text: string) => string = (text) => text;

/** Options of {@link initTracing}. */
export interface TracingOptions {
  /** `service.name` (default `kiro-gateway`); `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` win. */
  serviceName?: string;
  /** `service.version`, e.g. the package version. */
  serviceVersion?: string;
  /** Export here instead of OTLP (tests pass an `InMemorySpanExporter`); enables tracing. */
  exporter?: SpanExporter;
  /** Environment to read `OTEL_*` switches from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Batch spans before export (default: true for OTLP, false for a passed exporter). */
  batch?: boolean;
  /** Applied to exception messages and string attributes, e.g. the logger's secret scrubber. */
  scrub?: (text: string) => string;
  /**
   * Register an AsyncLocalStorage context manager so child spans find their parent implicitly
   * (default false: pass `parent` explicitly; see the module comment for the cost on Node 20).
   */
  asyncContext?: boolean;
}

/** What {@link initTracing} returns. */
export interface TracingHandle {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /** Tracer to pass to {@link createTracingMiddleware}; a no-op tracer when disabled. */
  readonly tracer: Tracer;
  /** Flushes pending spans and unregisters the global provider, context manager and propagator. */
  shutdown(): Promise<void>;
}

/**
 * Sets tracing up once per process. Enabled when `opts.exporter` is given, or when
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set (then spans go to
 * an OTLP/HTTP JSON exporter: the traces endpoint is used as is, the generic one gets
 * `/v1/traces` appended; headers, timeout and compression come from the exporter's own
 * `OTEL_EXPORTER_OTLP_*` handling of `process.env`). `OTEL_SDK_DISABLED=true` and
 * `OTEL_TRACES_EXPORTER=none` turn it off. Sampling follows `OTEL_TRACES_SAMPLER` (default
 * parent-based always-on). Registers the provider and the W3C propagators globally (plus an
 * AsyncLocalStorage context manager with `asyncContext: true`). Throws if tracing is already on.
 *
 * @example
 * const tracing = initTracing({ serviceVersion: pkg.version });
 * app.use(createTracingMiddleware(tracing.tracer));
 * process.once('SIGTERM', () => void tracing.shutdown());
 */
export function initTracing(opts: TracingOptions = {}): TracingHandle {
  const env = opts.env ?? process.env;
  const exporter = isTrue(env.OTEL_SDK_DISABLED) ? undefined : (opts.exporter ?? otlpExporterFromEnv(env));
  if (!exporter) return { enabled: false, tracer: DISABLED_TRACER, shutdown: async () => {} };
  if (activeTracer) throw new Error('initTracing: tracing is already on; shut the previous handle down first');

  const own: Attributes = { [ATTR_SERVICE_NAME]: opts.serviceName ?? DEFAULT_SERVICE_NAME };
  if (opts.serviceVersion) own[ATTR_SERVICE_VERSION] = opts.serviceVersion;
  const resource = defaultResource()
    .merge(resourceFromAttributes(own))
    .merge(detectResources({ detectors: [envDetector] }));
  const batch = opts.batch ?? opts.exporter === undefined;
  const processor = batch ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  const asyncContext = opts.asyncContext ?? false;
  // null = do not register a context manager (the API then always reports the root context).
  provider.register(asyncContext ? {} : { contextManager: null });
  asyncContextOn = asyncContext;

  const tracer = provider.getTracer(TRACER_NAME, opts.serviceVersion);
  activeTracer = tracer;
  if (opts.scrub) scrubText = opts.scrub;
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracer,
    shutdown(): Promise<void> {
      stopped ??= (async () => {
        if (activeTracer === tracer) {
          activeTracer = undefined;
          asyncContextOn = false;
          scrubText = (text) => text;
        }
        try {
          await provider.shutdown();
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
        }
      })();
      return stopped;
    },
  };
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true';
}

function otlpExporterFromEnv(env: NodeJS.ProcessEnv): SpanExporter | undefined {
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (tracesEndpoint) return new OTLPTraceExporter({ url: tracesEndpoint });
  if (endpoint) return new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/${OTLP_TRACES_PATH}` });
  return undefined;
}

/**
 * Returns a copy of `attrs` without keys that look secret (see `isSecretKey`: token, secret,
 * password, apiKey, authorization, cookie…; token *counts* such as `gen_ai.usage.input_tokens`
 * are kept), without undefined values, and with long strings truncated.
 */
export function safeAttributes(attrs: Attributes): Attributes {
  const out: Attributes = {};
  for (const key in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
    const value = attrs[key];
    if (value === undefined || isSecretKey(key)) continue;
    out[key] = typeof value === 'string' ? safeString(value) : value;
  }
  return out;
}

function safeString(value: string): string {
  const scrubbed = scrubText(value);
  return scrubbed.length > MAX_ATTRIBUTE_LENGTH ? scrubbed.slice(0, MAX_ATTRIBUTE_LENGTH) : scrubbed;
}

/** Sets `attrs` on `span` through {@link safeAttributes}. */
export function setSafeAttributes(span: Span, attrs: Attributes): void {
  if (span.isRecording()) span.setAttributes(safeAttributes(attrs));
}

/**
 * Marks `span` failed with the error's name and (scrubbed, truncated) message. The stack is left
 * out: its first line repeats the message, and the logs have it.
 */
export function recordSpanError(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const name = err instanceof Error ? err.name : typeof err;
  const raw = err instanceof Error ? err.message : String(err);
  const message = scrubText(raw).slice(0, MAX_EXCEPTION_MESSAGE_LENGTH);
  span.recordException({ name, message });
  span.setAttribute(ATTR_ERROR_TYPE, name);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Options of {@link withChildSpan}. */
export interface ChildSpanOptions {
  /** Default INTERNAL; use CLIENT for the upstream call. */
  kind?: SpanKind;
  /**
   * The parent span: the request's `ctx.state.span`, or the span an enclosing `withChildSpan`
   * handed to its `fn`. Default: the active context's span (only with `asyncContext: true`;
   * otherwise the new span is a root span).
   */
  parent?: Span;
}

/** Context to start a child in: the explicit parent if any, else whatever is active. */
function parentContext(parent: Span | undefined): OtelContext {
  return parent ? trace.setSpan(context.active(), parent) : context.active();
}

/**
 * Runs `fn` inside a child span of `opts.parent` (or of the active context) and ends it when `fn`
 * settles; a throw marks the span failed and is rethrown. Use it for credential selection, token
 * refresh (lock wait included) and the upstream call. `fn` receives the span: pass it as
 * `parent` to nested calls. `attrs` go through {@link safeAttributes}; inside `fn`, prefer
 * {@link setSafeAttributes}. With `asyncContext: true` the span is also made active for `fn`.
 * Spans come from the tracer of the live `initTracing()` handle; when tracing is off, `fn` gets a
 * non-recording span and nothing else happens.
 *
 * @example
 * const lease = await withChildSpan(SPAN_NAMES.credentialSelect, { [SPAN_ATTRS.model]: model },
 *   () => pool.acquire(model), { parent: ctx.state.span });
 */
export async function withChildSpan<T>(
  name: string,
  attrs: Attributes | undefined,
  fn: (span: Span) => T | Promise<T>,
  opts: ChildSpanOptions = {},
): Promise<T> {
  const tracer = activeTracer;
  if (!tracer) return fn(NOOP_SPAN);
  const options = { kind: opts.kind ?? SpanKind.INTERNAL, attributes: attrs ? safeAttributes(attrs) : undefined };
  const span = tracer.startSpan(name, options, parentContext(opts.parent));
  try {
    return await (asyncContextOn ? context.with(trace.setSpan(context.active(), span), () => fn(span)) : fn(span));
  } catch (err) {
    recordSpanError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/**
 * A child span covering the event-stream → SSE pipeline of one response. Each method adds its
 * span event once, however often it is called, so the pipeline can call `firstFrame()` and
 * `firstByte()` on every chunk for the price of a boolean check. When tracing is off,
 * `StreamSpan.start()` returns a shared inert instance.
 */
export class StreamSpan {
  /** Shared by every stream while tracing is off: its methods only flip flags. */
  private static readonly INERT = new StreamSpan(undefined);

  private sawFrame = false;
  private sawByte = false;
  private ended = false;

  private constructor(private readonly span: Span | undefined) {}

  /** Starts the span as a child of `parent` (e.g. `ctx.state.span`), else of the active context. */
  static start(name: string = SPAN_NAMES.stream, attrs?: Attributes, parent?: Span): StreamSpan {
    const tracer = activeTracer;
    if (!tracer) return StreamSpan.INERT;
    const options = { attributes: attrs ? safeAttributes(attrs) : undefined };
    return new StreamSpan(tracer.startSpan(name, options, parentContext(parent)));
  }

  /** The first upstream event-stream frame was decoded. */
  firstFrame(): void {
    if (this.sawFrame) return;
    this.sawFrame = true;
    this.span?.addEvent(STREAM_EVENTS.firstFrame);
  }

  /** The first byte was written to the client. */
  firstByte(): void {
    if (this.sawByte) return;
    this.sawByte = true;
    this.span?.addEvent(STREAM_EVENTS.firstByte);
  }

  /**
   * The stream is over: records the outcome class (a failure outcome marks the span failed),
   * optional final attributes (e.g. token counts), and ends the span. Only the first call counts.
   */
  end(outcome: string, attrs?: Attributes): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (!span) return;
    span.addEvent(STREAM_EVENTS.end, { [SPAN_ATTRS.outcome]: outcome });
    span.setAttribute(SPAN_ATTRS.outcome, outcome);
    if (attrs) setSafeAttributes(span, attrs);
    if (isFailureOutcome(outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    span.end();
  }
}

/** Options of {@link createTracingMiddleware}. */
export interface TracingMiddlewareOptions {
  /** Incoming `traceparent` is honoured (default true); turn off on an untrusted edge. */
  trustIncomingTraceContext?: boolean;
}

const MAX_PATH_LENGTH = 256;

/**
 * Koa middleware creating the server span of each request: continues an incoming W3C
 * `traceparent`, keeps the span on `ctx.state.span` (the `parent` for the request's child spans;
 * with `asyncContext: true` the rest of the chain also runs in its context), and ends it once the
 * response has ended (streamed responses included). The
 * name becomes `METHOD /route/template` when @koa/router matched a route. At the end it sets
 * `http.route`, `http.response.status_code`, the request id and the model / credential / outcome /
 * stop reason / token fields of `ctx.state.logFields`; 5xx, a thrown error or a failure outcome
 * mark it failed. With the disabled tracer it is a pass-through. Mount it first.
 */
export function createTracingMiddleware(tracer: Tracer, opts: TracingMiddlewareOptions = {}): Middleware {
  if (tracer === DISABLED_TRACER) return (_ctx, next) => next();
  const trustIncoming = opts.trustIncomingTraceContext ?? true;

  return function tracingMiddleware(ctx: Context, next: Next): Promise<void> {
    const parent = trustIncoming ? W3C_PROPAGATOR.extract(ROOT_CONTEXT, ctx.req.headers, defaultTextMapGetter) : ROOT_CONTEXT;
    const path = ctx.path.length > MAX_PATH_LENGTH ? ctx.path.slice(0, MAX_PATH_LENGTH) : ctx.path;
    const span = tracer.startSpan(
      ctx.method,
      {
        kind: SpanKind.SERVER,
        // The raw path can carry anything a client put there (a misplaced key): scrubbed like any string attribute.
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: ctx.method, [ATTR_URL_PATH]: safeString(path), [ATTR_URL_SCHEME]: ctx.protocol },
      },
      parent,
    );
    (ctx.state as ObservabilityState).span = span;
    const run = asyncContextOn ? () => context.with(trace.setSpan(parent, span), next) : next;
    return whenResponseDone(ctx, run, (end) => endServerSpan(ctx, span, end));
  };
}

function endServerSpan(ctx: Context, span: Span, end: ResponseEnd): void {
  if (!span.isRecording()) {
    span.end();
    return;
  }
  const route = matchedRoute(ctx);
  if (route !== undefined) {
    span.updateName(`${ctx.method} ${route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  const status = responseStatus(ctx, end);
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  const state = ctx.state as ObservabilityState;
  if (state.requestId) span.setAttribute(SPAN_ATTRS.requestId, state.requestId);
  if (state.logFields) span.setAttributes(fieldAttributes(state.logFields));
  if (end.clientDisconnected) span.setAttribute(SPAN_ATTRS.clientDisconnected, true);

  const outcome = state.logFields?.outcome;
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

/**
 * Starts a child span of `parent` that the caller ends (for spans that do not wrap one call, such as
 * credential selection, which ends when the upstream answers). Undefined when tracing is off.
 */
export function startChildSpan(name: string, attrs: Attributes | undefined, parent: Span | undefined): Span | undefined {
  const tracer = activeTracer;
  if (!tracer) return undefined;
  return tracer.startSpan(name, { attributes: attrs ? safeAttributes(attrs) : undefined }, parentContext(parent));
}

/**
 * Records a span that already happened (its start is `durationMs` ago), e.g. a token refresh the
 * pool reports once it is over. `failed` marks it as an error.
 */
export function recordPastSpan(
  name: string,
  durationMs: number,
  attrs: Attributes | undefined,
  parent: Span | undefined,
  failed = false,
): void {
  const tracer = activeTracer;
  if (!tracer) return;
  const end = Date.now();
  const span = tracer.startSpan(
    name,
    { attributes: attrs ? safeAttributes(attrs) : undefined, startTime: end - durationMs },
    parentContext(parent),
  );
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  span.end(end);
}
