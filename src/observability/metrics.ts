/**
 * Prometheus metrics (prom-client). Every name is `kiro_gateway_<thing>_<unit>`, and every label
 * value comes from a fixed, small set (route templates, model families, outcome classes,
 * credential ids) — never a raw URL, model string, request id or secret.
 *
 * Counters and histograms are small cell-based metrics registered on a prom-client `Registry`
 * (see `CellMetric` in metric-primitives.ts): recording is a few arithmetic operations on a
 * pre-created series, cheap enough for one call per upstream frame or SSE event. Gauges computed at
 * scrape time (credential-gauges.ts, health-gauges.ts) and the default process metrics are plain
 * prom-client. `GatewayMetrics` is the one object the gateway passes around; the metrics themselves
 * are in groups by what they measure (http-, response-, upstream-, store- and admission-metrics.ts).
 * The label sets live in metric-labels.ts (re-exported here) and the Koa middleware in
 * metrics-middleware.ts.
 */
import { performance } from 'node:perf_hooks';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { CredentialRecord } from '../credentials/types.js';
import type { AdmissionEvent, AdmissionSnapshot } from '../anthropic/admission.js';
import { registerCredentialGauges } from './credential-gauges.js';
import { registerHealthGauges, type HealthState } from './health-gauges.js';
import { MetricFactory } from './metric-factory.js';
import type { OutcomeClass, RefreshOutcome } from './metric-labels.js';
import { HttpMetrics } from './http-metrics.js';
import { ResponseMetrics, type StreamMetrics } from './response-metrics.js';
import { UpstreamMetrics } from './upstream-metrics.js';
import { StoreMetrics } from './store-metrics.js';
import { AdmissionMetrics } from './admission-metrics.js';
import { KeyMetrics } from './key-metrics.js';
import type { LimitName } from '../keys/types.js';

export {
  ADMISSION_PATHS,
  DEFAULT_REDIS_COMMANDS,
  DISABLED_REASONS,
  HTTP_METHODS,
  MODEL_FAMILIES,
  OUTCOME_CLASSES,
  REFRESH_OUTCOMES,
  SHED_REASONS,
  SSE_EVENT_TYPES,
  isFailureOutcome,
  modelFamily,
  type ModelFamily,
  type OutcomeClass,
  type RefreshOutcome,
} from './metric-labels.js';
export type { HealthState } from './health-gauges.js';
export type { StreamMetrics } from './response-metrics.js';

const DEFAULT_PREFIX = 'kiro_gateway_';
/** An access token this close to `expiresAt` counts as near expiry (kiro.rs refreshes at 10 min). */
const DEFAULT_NEAR_EXPIRY_MS = 10 * 60 * 1000;

/** Options of {@link GatewayMetrics}. */
export interface GatewayMetricsOptions {
  /** Registry to register into (default: a fresh one, so instances never clash). */
  registry?: Registry;
  /** Also collect prom-client's default Node process metrics (default true; standard names, unprefixed). */
  collectDefault?: boolean;
  /** Name prefix of the gateway metrics (default `kiro_gateway_`). */
  prefix?: string;
  /** Extra Redis command names to label individually, e.g. ioredis `defineCommand` script names. */
  redisCommands?: readonly string[];
  /** Window for the near-expiry credential gauge (default 10 min). */
  credentialNearExpiryMs?: number;
  /** Clock for the credential gauges (epoch ms; tests). */
  now?: () => number;
}

/**
 * All gateway metrics, registered on one registry. Create one per process and pass it to the
 * components that record; serve {@link GatewayMetrics.metricsText} on the metrics port. Every
 * recording method costs a few arithmetic operations on a pre-created series (HTTP, upstream and
 * Redis series are created on first use and cached).
 *
 * Metrics (prefix `kiro_gateway_`):
 * - `http_requests_total`, `http_request_duration_seconds` {route, method, status}
 * - `time_to_first_byte_seconds`, `stream_duration_seconds` {model}; `inflight_streams` (gauge, HPA)
 * - `input_tokens_total`, `output_tokens_total` {model}
 * - `upstream_calls_total` {outcome, credential}; `upstream_call_duration_seconds` {outcome}
 * - `upstream_retries_total`, `credential_failovers_total` {outcome}
 * - `eventstream_frames_total`, `eventstream_bytes_total`, `eventstream_crc_errors_total`
 * - `sse_events_total` {event}; `client_disconnects_total`
 * - `credentials_enabled`, `credentials_disabled` {reason}, `credentials_near_expiry`,
 *   `credentials_cooling_down`, `credential_enabled` {credential} (gauges, computed at scrape)
 * - `ready`, `store_degraded` (gauges, computed at scrape)
 * - `token_refreshes_total` {outcome}; `refresh_lock_wait_seconds`; `refresh_lock_contention_total`
 * - `redis_command_duration_seconds`, `redis_errors_total` {command}
 * - `admission_active`, `admission_queued`, `admission_limit` (gauges);
 *   `admission_admitted_total` {path: immediate|queued}; `admission_shed_total` {reason:
 *   queue_full|queue_timeout}; `admission_queue_wait_seconds`; `slow_client_cutoffs_total`
 * - `client_key_requests_total`, `client_key_errors_total`, `client_key_credits_total` {key};
 *   `client_key_tokens_total` {key, direction}; `client_key_rate_limited_total` {key, limit};
 *   `client_key_limit_check_seconds` {scope: shared|local}; `client_key_limits_local` (gauge)
 */
export class GatewayMetrics {
  /** The registry holding every metric (default process metrics included when enabled). */
  readonly registry: Registry;
  /** Content-Type for the exposition text. */
  readonly contentType: string;

  private readonly http: HttpMetrics;
  private readonly responses: ResponseMetrics;
  private readonly upstream: UpstreamMetrics;
  private readonly store: StoreMetrics;
  private readonly admission: AdmissionMetrics;
  private readonly keys: KeyMetrics;
  private credentialSource: (() => readonly CredentialRecord[]) | undefined;
  private healthSource: (() => HealthState) | undefined;

  /** Registers every metric; throws if the registry already holds one of the names. */
  constructor(opts: GatewayMetricsOptions = {}) {
    const registry = opts.registry ?? new Registry();
    this.registry = registry;
    this.contentType = registry.contentType;
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    const factory = new MetricFactory(registry, prefix);
    this.http = new HttpMetrics(factory);
    this.responses = new ResponseMetrics(factory);
    this.upstream = new UpstreamMetrics(factory);
    const now = opts.now ?? Date.now;
    registerCredentialGauges(registry, prefix, {
      records: () => this.credentialSource?.() ?? [],
      now: () => now(),
      nearExpiryMs: opts.credentialNearExpiryMs ?? DEFAULT_NEAR_EXPIRY_MS,
    });
    registerHealthGauges(registry, prefix, () => this.healthSource?.());
    this.store = new StoreMetrics(factory, opts.redisCommands);
    this.admission = new AdmissionMetrics(factory);
    this.keys = new KeyMetrics(factory);
    if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry });
  }

  /** Counts one finished HTTP request; `route` must be a template (see `createMetricsMiddleware`). */
  recordHttpRequest(route: string, method: string, status: number, seconds: number): void {
    this.http.record(route, method, status, seconds);
  }

  /** Counts a response whose client left before it was complete. */
  recordClientDisconnect(): void {
    this.http.recordClientDisconnect();
  }

  /**
   * Starts timing one upstream-backed response (streaming or not) and enters the in-flight gauge
   * the HPA scales on. Call `end()` in a `finally`, or the gauge leaks.
   *
   * @param model any model string; only its family is used.
   * @param startedAt `performance.now()` when the request started (default: now).
   */
  startStream(model: string, startedAt: number = performance.now()): StreamMetrics {
    return this.responses.startStream(model, startedAt);
  }

  /** In-flight upstream-backed responses on this replica (what `inflight_streams` exports). */
  get inflightStreams(): number {
    return this.responses.inflightStreams;
  }

  /** Adds the usage of one response. */
  recordTokens(model: string, inputTokens: number, outputTokens: number): void {
    this.responses.recordTokens(model, inputTokens, outputTokens);
  }

  /** Adds the Kiro credits one request used. */
  recordCredits(credentialId: number, model: string, credits: number): void {
    this.upstream.recordCredits(credentialId, model, credits);
  }

  /** Counts one upstream HTTP call and its latency (to response headers or failure). */
  recordUpstreamCall(outcome: OutcomeClass, seconds: number, credentialId: number): void {
    this.upstream.recordCall(outcome, seconds, credentialId);
  }

  /** Counts a retry (same or next credential) caused by `outcome`. */
  recordRetry(outcome: OutcomeClass): void {
    this.upstream.recordRetry(outcome);
  }

  /** Counts a switch to another credential caused by `outcome`. */
  recordFailover(outcome: OutcomeClass): void {
    this.upstream.recordFailover(outcome);
  }

  /** Counts one decoded event-stream frame of `bytes` bytes. Hot path: two additions. */
  recordFrame(bytes: number): void {
    this.upstream.recordFrame(bytes);
  }

  /** Counts one frame rejected for a bad CRC. */
  recordCrcError(): void {
    this.upstream.recordCrcError();
  }

  /** Counts one dropped frame of an unknown type (a bounded name: UnknownEventTypes). */
  recordUnknownEvent(eventType: string): void {
    this.upstream.recordUnknownEvent(eventType);
  }

  /** Counts one SSE event written to a client (unknown names count as `other`). Hot path. */
  recordSseEvent(event: string): void {
    this.responses.recordSseEvent(event);
  }

  /** Counts one token-refresh attempt. */
  recordRefresh(outcome: RefreshOutcome): void {
    this.store.recordRefresh(outcome);
  }

  /** Observes the wait for a refresh lock; `contended` when it was held by someone else. */
  observeRefreshLockWait(seconds: number, contended: boolean): void {
    this.store.observeRefreshLockWait(seconds, contended);
  }

  /** Observes one Redis command; `failed` also counts it in `redis_errors_total`. */
  observeRedisCommand(command: string, seconds: number, failed = false): void {
    this.store.observeRedisCommand(command, seconds, failed);
  }

  /** Counts what admission control did with one request. */
  recordAdmission(e: AdmissionEvent): void {
    this.admission.record(e);
  }

  /** Where the admission gauges read from at scrape time. */
  setAdmissionSource(source: () => AdmissionSnapshot): void {
    this.admission.setSource(source);
  }

  /** Time of one client-key limit check (KeyObserver). */
  limitChecked(seconds: number, scope: 'shared' | 'local'): void {
    this.keys.limitChecked(seconds, scope);
  }

  /** A request refused by a client key's limits (KeyObserver). */
  rateLimited(keyId: string, limits: readonly LimitName[]): void {
    this.keys.rateLimited(keyId, limits);
  }

  /** What one admitted request of a client key used (KeyObserver). */
  requestEnded(keyId: string, counts: { requests: number; errors: number; inputTokens: number; outputTokens: number; credits: number }): void {
    this.keys.requestEnded(keyId, counts);
  }

  /** Where the `client_key_limits_local` gauge reads from at scrape time. */
  setKeyLimitsLocalSource(source: () => boolean): void {
    this.keys.setLocalSource(source);
  }

  /** Counts a stream cut off because its client stopped reading. */
  recordSlowClientCutoff(): void {
    this.responses.recordSlowClientCutoff();
  }

  /**
   * Where the credential gauges read from at scrape time (e.g. `() => store.list()`); the
   * callback must be cheap and synchronous.
   */
  setCredentialSource(source: () => readonly CredentialRecord[]): void {
    this.credentialSource = source;
  }

  /** Where the health gauges read from at scrape time; the callback must be cheap and synchronous. */
  setHealthSource(source: () => HealthState): void {
    this.healthSource = source;
  }

  /** The Prometheus text exposition of every metric in the registry. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}
