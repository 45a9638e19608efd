/**
 * OpenTelemetry tracing, in four parts (the gateway imports them one by one, so that the SDK is
 * only loaded when tracing is on; this barrel is for tests and tools):
 * - tracing-env.ts: whether the environment asks for tracing, without loading the SDK.
 * - tracing-sdk.ts: `initTracing` starts `NodeSDK` from the standard `OTEL_*` environment, with the
 *   undici and ioredis instrumentations (tracing-instrumentations.ts) behind a secret filter
 *   (scrubbing-tracer.ts); off unless an exporter is configured.
 * - tracing-middleware.ts: the server span of each request.
 * - span-helpers.ts: the gateway's own child spans (credential selection, refresh, the upstream
 *   call, the event-stream → SSE pipeline with its first-frame / first-byte / end events).
 */
export * from './span-helpers.js';
export * from './tracing-middleware.js';
export * from './tracing-sdk.js';
