/**
 * Starts OpenTelemetry tracing with `NodeSDK` (@opentelemetry/sdk-node). The SDK reads the standard
 * environment itself: `OTEL_TRACES_EXPORTER` (otlp, console, zipkin), `OTEL_EXPORTER_OTLP_*`
 * (endpoint, protocol — http/protobuf by default, http/json, grpc —, headers, timeout),
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_PROPAGATORS`, `OTEL_SERVICE_NAME` /
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, span limits.
 *
 * One decision is the gateway's: the SDK's default is to export to localhost:4318, ours is to stay
 * off (no SDK, no loader hook, no AsyncLocalStorage: nothing costs anything) unless an exporter is
 * asked for — `OTEL_TRACES_EXPORTER` set to something other than `none`, or an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set.
 * `OTEL_SDK_DISABLED=true` turns it off whatever else is set.
 *
 * When on, the SDK's AsyncLocalStorage context manager is registered: the undici and ioredis
 * instrumentations find the request they belong to through it. On Node 20 it costs a promise
 * hook per promise for every request, sampled or not; the README has the bench figures.
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { TRACER_NAME, activateSpans, deactivateSpans, spansActive } from './span-helpers.js';
import { TRACING_OFF, tracingRequested, type TracingHandle } from './tracing-env.js';
import { ScrubbingTracerProvider } from './scrubbing-tracer.js';
import { createInstrumentations, registerModuleHooks } from './tracing-instrumentations.js';

const DEFAULT_SERVICE_NAME = 'kiro-gateway';

/** Options of {@link initTracing}. */
export interface TracingOptions {
  /** `service.name` (default `kiro-gateway`); `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` win. */
  serviceName?: string;
  /** `service.version`, e.g. the package version. */
  serviceVersion?: string;
  /** Export here instead of what the environment says (tests pass an `InMemorySpanExporter`); enables tracing. */
  exporter?: SpanExporter;
  /** Batch spans before export (only with `exporter`; default false: each span is exported as it ends). */
  batch?: boolean;
  /** Applied to exception messages and string attributes, e.g. the logger's secret scrubber. */
  scrub?: (text: string) => string;
}

export { tracingRequested } from './tracing-env.js';
export type { TracingHandle } from './tracing-env.js';

/**
 * Sets tracing up once per process (see the module comment for when it is on). Call it before
 * the gateway's modules are imported, so the ioredis instrumentation can patch ioredis as it
 * loads. Throws if tracing is already on.
 *
 * @example
 * const tracing = initTracing({ serviceVersion: pkg.version, scrub });
 * const { buildGateway } = await import('./gateway.js');
 * // … after the drain on SIGTERM:
 * await tracing.shutdown();
 */
export function initTracing(opts: TracingOptions = {}): TracingHandle {
  if (!tracingRequested(opts.exporter !== undefined)) return TRACING_OFF;
  if (spansActive()) throw new Error('initTracing: tracing is already on; shut the previous handle down first');
  const scrub = opts.scrub ?? ((text: string) => text);

  registerModuleHooks();
  const instrumentations = createInstrumentations();
  const own = { [ATTR_SERVICE_NAME]: opts.serviceName ?? DEFAULT_SERVICE_NAME, ...(opts.serviceVersion ? { [ATTR_SERVICE_VERSION]: opts.serviceVersion } : {}) };
  const exporter = opts.exporter;
  const sdk = new NodeSDK({
    // The SDK merges its detectors (env: OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, process, host) over this.
    resource: defaultResource().merge(resourceFromAttributes(own)),
    ...(exporter ? { spanProcessors: [opts.batch ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter)] } : {}),
    instrumentations,
    // Metrics are prom-client's (/metrics), logs are pino's: the SDK exports traces only.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  const scrubbing = new ScrubbingTracerProvider(trace.getTracerProvider(), scrub);
  for (const instrumentation of instrumentations) instrumentation.setTracerProvider(scrubbing);

  const tracer = trace.getTracer(TRACER_NAME, opts.serviceVersion);
  activateSpans(tracer, scrub);
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    tracer,
    shutdown(): Promise<void> {
      stopped ??= (async () => {
        deactivateSpans(tracer);
        for (const instrumentation of instrumentations) instrumentation.disable();
        try {
          await sdk.shutdown();
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
