/**
 * Whether tracing is on, read from the standard environment without loading the OpenTelemetry
 * SDK: a gateway with tracing off never imports `@opentelemetry/sdk-node` and its exporters
 * (about 15 MB of V8 heap, loaded by tracing-sdk.ts only when asked for).
 */
import { diag, type Tracer } from '@opentelemetry/api';
import { DISABLED_TRACER } from './span-helpers.js';

// The three environment readers of `@opentelemetry/core` (platform/node/environment.js), with the
// same rules, so that the package (32 modules, ~1.5 MB of V8 heap with its dependencies) is loaded
// only with the SDK, when tracing is on.

/** A variable's value; undefined when unset or blank. */
function getStringFromEnv(key: string): string | undefined {
  const raw = process.env[key];
  return raw == null || raw.trim() === '' ? undefined : raw;
}

/** `true` only for "true" (any case, trimmed); anything else but "false" and blank is warned about. */
function getBooleanFromEnv(key: string): boolean {
  const raw = process.env[key]?.trim().toLowerCase();
  if (raw == null || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  diag.warn(`Unknown value ${JSON.stringify(raw)} for ${key}, expected 'true' or 'false', falling back to 'false' (default)`);
  return false;
}

/** A comma-separated list, items trimmed, empty ones left out. */
function getStringListFromEnv(key: string): string[] | undefined {
  return getStringFromEnv(key)
    ?.split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

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
  const exporters = getStringListFromEnv('OTEL_TRACES_EXPORTER') ?? [];
  if (exporters.length > 0) return exporters[0] !== 'none';
  return Boolean(getStringFromEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT'));
}
