/**
 * Whether tracing is on, read from the standard environment without loading the OpenTelemetry
 * SDK: a gateway with tracing off never imports `@opentelemetry/sdk-node` and its exporters
 * (about 15 MB of V8 heap, loaded by tracing-sdk.ts only when asked for).
 */
import { getBooleanFromEnv, getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import type { Tracer } from '@opentelemetry/api';
import { DISABLED_TRACER } from './span-helpers.js';

/** What `initTracing` (tracing-sdk.ts) returns. */
export interface TracingHandle {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /** Tracer to pass to `createTracingMiddleware`; a no-op tracer when disabled. */
  readonly tracer: Tracer;
  /** Flushes pending spans, removes the instrumentations and unregisters the SDK's globals. */
  shutdown(): Promise<void>;
}

/** The handle of a process without tracing. */
export const TRACING_OFF: TracingHandle = Object.freeze({ enabled: false, tracer: DISABLED_TRACER, shutdown: async () => {} });

/**
 * Whether the environment (or a passed exporter) asks for traces: an exporter other than `none` in
 * `OTEL_TRACES_EXPORTER`, or an OTLP endpoint; `OTEL_SDK_DISABLED=true` wins (see tracing-sdk.ts).
 */
export function tracingRequested(hasExporter: boolean): boolean {
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return false;
  if (hasExporter) return true;
  const exporters = getStringListFromEnv('OTEL_TRACES_EXPORTER')?.filter((e) => e !== '') ?? [];
  if (exporters.length > 0) return exporters[0] !== 'none';
  return Boolean(getStringFromEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT'));
}
