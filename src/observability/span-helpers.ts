/**
 * The gateway's own spans: names, attribute keys, secret-safe attributes, and the helpers that start
 * child spans of a request (explicit `parent`, else the active context). They use the tracer of the
 * live `initTracing()` handle (tracing-sdk.ts); while tracing is off they call straight through with
 * a non-recording span, so the cost is a branch.
 *
 * Span tree of one request:
 *   POST /v1/messages (server; incoming trace context honoured)
 *   ├─ credential.select
 *   │  ├─ credential.refresh            (incl. lock wait)
 *   │  └─ kiro.generate_assistant_response (client)
 *   │     └─ POST (undici: the HTTP call to Kiro)
 *   ├─ POST (undici: the token refresh call), Redis commands (ioredis) of the request
 *   └─ kiro.stream                   (events first_frame, first_byte, stream_end)
 *
 * No span ever gets a per-chunk event, and no attribute whose key looks secret (`safeAttributes`).
 */
import { INVALID_SPAN_CONTEXT, ProxyTracerProvider, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Context as OtelContext, Span, Tracer } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from './otel-attributes.js';
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

export const TRACER_NAME = 'kiro-gateway';
const MAX_ATTRIBUTE_LENGTH = 1024;
const MAX_EXCEPTION_MESSAGE_LENGTH = 500;

/** Handed out when tracing is off; recognised by identity so the middleware can step aside. */
export const DISABLED_TRACER: Tracer = new ProxyTracerProvider().getTracer(TRACER_NAME);
const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The tracer of the live `initTracing()` handle; undefined when tracing is off. */
let activeTracer: Tracer | undefined;
let scrubText: (text: string) => string = (text) => text;

/** Makes `tracer` the one the helpers use, with `scrub` applied to string attributes and messages. */
export function activateSpans(tracer: Tracer, scrub: (text: string) => string): void {
  if (activeTracer) throw new Error('initTracing: tracing is already on; shut the previous handle down first');
  activeTracer = tracer;
  scrubText = scrub;
}

/** Back to off, if `tracer` is still the active one. */
export function deactivateSpans(tracer: Tracer): void {
  if (activeTracer !== tracer) return;
  activeTracer = undefined;
  scrubText = (text) => text;
}

/** Whether a live handle is on. */
export function spansActive(): boolean {
  return activeTracer !== undefined;
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

/** `value` scrubbed and truncated to the attribute length limit. */
export function safeString(value: string): string {
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
   * handed to its `fn`. Default: the active context's span (the request's server span inside
   * the tracing middleware).
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
 * {@link setSafeAttributes}. The span is also the active one for `fn`, so the HTTP and Redis
 * calls `fn` makes (undici / ioredis instrumentations) become its children.
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
    return await context.with(trace.setSpan(context.active(), span), () => fn(span));
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
