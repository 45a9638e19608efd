/**
 * The tracer the instrumentations (undici, ioredis) get instead of the SDK's: every attribute,
 * event attribute, status and exception message they record passes the same secret filter as
 * the gateway's own spans (secret-looking keys dropped, known secret values scrubbed), whatever
 * the instrumentation decides to record in a later version. It also gives them no span outside a
 * live, recording parent: a Redis command that runs after its request ended (a timer created
 * while it ran inherits its context) is not hung under a finished span.
 */
import { context, trace } from '@opentelemetry/api';
import type {
  Attributes,
  Context,
  Exception,
  Link,
  Span,
  SpanAttributeValue,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
  TracerOptions,
  TracerProvider,
} from '@opentelemetry/api';
import { isSecretKey } from './redact.js';

/** Wraps `inner`, handing out {@link ScrubbingTracer}s. */
export class ScrubbingTracerProvider implements TracerProvider {
  constructor(
    private readonly inner: TracerProvider,
    private readonly scrub: (text: string) => string,
  ) {}

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    return new ScrubbingTracer(this.inner.getTracer(name, version, options), this.scrub);
  }
}

class ScrubbingTracer implements Tracer {
  constructor(
    private readonly inner: Tracer,
    private readonly scrub: (text: string) => string,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = trace.getSpan(ctx);
    // Not recording: unsampled (the child would not be either) or already ended. Propagation still
    // carries the parent's context downstream.
    if (parent && !parent.isRecording()) return trace.wrapSpanContext(parent.spanContext());
    const attributes = options.attributes ? scrubAttributes(options.attributes, this.scrub) : undefined;
    return new ScrubbingSpan(this.inner.startSpan(name, { ...options, attributes }, ctx), this.scrub);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.pop() as F;
    const [options, ctx = context.active()] = rest as [SpanOptions | undefined, Context | undefined];
    const span = this.startSpan(name, options, ctx);
    return context.with(trace.setSpan(ctx, span), fn as (s: Span) => ReturnType<F>, undefined, span);
  }
}

function scrubValue(value: SpanAttributeValue, scrub: (text: string) => string): SpanAttributeValue {
  if (typeof value === 'string') return scrub(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? scrub(v) : v)) as SpanAttributeValue;
  return value;
}

function scrubAttributes(attrs: Attributes, scrub: (text: string) => string): Attributes {
  const out: Attributes = {};
  for (const key of Object.keys(attrs)) {
    const value = attrs[key];
    if (value === undefined || isSecretKey(key)) continue;
    out[key] = scrubValue(value, scrub);
  }
  return out;
}

class ScrubbingSpan implements Span {
  constructor(
    private readonly inner: Span,
    private readonly scrub: (text: string) => string,
  ) {}

  spanContext(): SpanContext {
    return this.inner.spanContext();
  }

  setAttribute(key: string, value: SpanAttributeValue): this {
    if (!isSecretKey(key)) this.inner.setAttribute(key, scrubValue(value, this.scrub));
    return this;
  }

  setAttributes(attributes: Attributes): this {
    this.inner.setAttributes(scrubAttributes(attributes, this.scrub));
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    const isAttributes = typeof attributesOrStartTime === 'object' && !Array.isArray(attributesOrStartTime) && !(attributesOrStartTime instanceof Date);
    if (isAttributes) this.inner.addEvent(name, scrubAttributes(attributesOrStartTime, this.scrub), startTime);
    else this.inner.addEvent(name, attributesOrStartTime, startTime);
    return this;
  }

  addLink(link: Link): this {
    this.inner.addLink(link);
    return this;
  }

  addLinks(links: Link[]): this {
    this.inner.addLinks(links);
    return this;
  }

  setStatus(status: SpanStatus): this {
    this.inner.setStatus(status.message === undefined ? status : { ...status, message: this.scrub(status.message) });
    return this;
  }

  updateName(name: string): this {
    this.inner.updateName(this.scrub(name));
    return this;
  }

  end(endTime?: TimeInput): void {
    this.inner.end(endTime);
  }

  isRecording(): boolean {
    return this.inner.isRecording();
  }

  recordException(exception: Exception, time?: TimeInput): void {
    if (typeof exception === 'string') return this.inner.recordException(this.scrub(exception), time);
    const name = exception.name ?? (exception as Error).constructor?.name;
    const message = exception.message === undefined ? undefined : this.scrub(exception.message);
    // The stack repeats the message (and may quote arguments); the logs have it.
    this.inner.recordException({ name, message, code: exception.code }, time);
  }
}
