/**
 * Prometheus metrics (prom-client). Every name is `kiro_gateway_<thing>_<unit>`, and every label
 * value comes from a fixed, small set (route templates, model families, outcome classes,
 * credential ids) — never a raw URL, model string, request id or secret.
 *
 * Counters and histograms are small cell-based metrics registered on a prom-client `Registry`
 * (see `CellMetric` in metric-primitives.ts): recording is a few arithmetic operations on a
 * pre-created series, cheap enough for one call per upstream frame or SSE event. Gauges computed at
 * scrape time (credential-gauges.ts) and the default process metrics are plain prom-client. The
 * label sets live in metric-labels.ts (re-exported here) and the Koa middleware in
 * metrics-middleware.ts.
 */
import { performance } from 'node:perf_hooks';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CredentialRecord } from '../credentials/types.js';
import type { AdmissionEvent, AdmissionSnapshot } from '../anthropic/admission.js';
import { registerCredentialGauges } from './credential-gauges.js';
import { registerHealthGauges, type HealthState } from './health-gauges.js';
import { FastCounter, FastHistogram, type CounterCell, type HistogramCell } from './metric-primitives.js';
import {
  ADMISSION_PATHS,
  DEFAULT_REDIS_COMMANDS,
  HTTP_METHODS,
  MODEL_FAMILIES,
  OUTCOME_CLASSES,
  REFRESH_OUTCOMES,
  SHED_REASONS,
  SSE_EVENT_TYPES,
  credentialLabel,
  knownOutcome,
  modelFamily,
  type ModelFamily,
  type OutcomeClass,
  type RefreshOutcome,
} from './metric-labels.js';

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

/** Buckets (seconds). Streams may last minutes (upstream timeout 720 s). */
const BUCKETS = {
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 720],
  firstByte: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60],
  stream: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300, 600, 900],
  upstream: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60],
  lockWait: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  redis: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  admissionWait: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
} as const;

const DEFAULT_PREFIX = 'kiro_gateway_';
/** An access token this close to `expiresAt` counts as near expiry (kiro.rs refreshes at 10 min). */
const DEFAULT_NEAR_EXPIRY_MS = 10 * 60 * 1000;
const LABEL_CACHE_LIMIT = 1024;

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

/** Per-stream timing handle from {@link GatewayMetrics.startStream}; every method is idempotent. */
export interface StreamMetrics {
  /** The first byte went to the client: observes time to first byte (once). */
  firstByte(): void;
  /** The stream is over, however it ended: leaves the in-flight gauge, observes duration (once). */
  end(): void;
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
 */
export class GatewayMetrics {
  /** The registry holding every metric (default process metrics included when enabled). */
  readonly registry: Registry;
  /** Content-Type for the exposition text. */
  readonly contentType: string;

  private readonly httpRequests: FastCounter;
  private readonly httpDuration: FastHistogram;
  private readonly httpCells = new Map<string, { count: CounterCell; duration: HistogramCell }>();

  private readonly ttfb: Record<ModelFamily, HistogramCell>;
  private readonly streamDuration: Record<ModelFamily, HistogramCell>;
  private readonly inputTokens: Record<ModelFamily, CounterCell>;
  private readonly outputTokens: Record<ModelFamily, CounterCell>;

  private readonly upstreamCalls: FastCounter;
  private readonly upstreamCallCells = new Map<string, CounterCell>();
  private readonly credits: FastCounter;
  private readonly creditCells = new Map<string, CounterCell>();
  private readonly upstreamDuration: Record<OutcomeClass, HistogramCell>;
  private readonly retries: Record<OutcomeClass, CounterCell>;
  private readonly failovers: Record<OutcomeClass, CounterCell>;

  private readonly frames: CounterCell;
  private readonly frameBytes: CounterCell;
  private readonly crcErrors: CounterCell;
  private readonly sseEvents: readonly CounterCell[];
  private readonly sseIndex: Readonly<Record<string, number>>;
  private readonly clientDisconnects: CounterCell;
  private inflight = 0;

  private readonly refreshes: Record<RefreshOutcome, CounterCell>;
  private readonly lockWait: HistogramCell;
  private readonly lockContention: CounterCell;

  private readonly redisDuration: FastHistogram;
  private readonly redisErrors: FastCounter;
  private readonly redisCommands: ReadonlySet<string>;
  private readonly redisCells = new Map<string, { duration: HistogramCell; errors: CounterCell }>();

  private readonly admitted: Record<(typeof ADMISSION_PATHS)[number], CounterCell>;
  private readonly shed: Record<(typeof SHED_REASONS)[number], CounterCell>;
  private readonly admissionWait: HistogramCell;
  private readonly slowClientCutoffs: CounterCell;
  private admissionSource: (() => AdmissionSnapshot) | undefined;

  private credentialSource: (() => readonly CredentialRecord[]) | undefined;
  private healthSource: (() => HealthState) | undefined;
  private readonly nearExpiryMs: number;
  private readonly now: () => number;

  /** Registers every metric; throws if the registry already holds one of the names. */
  constructor(opts: GatewayMetricsOptions = {}) {
    const registry = opts.registry ?? new Registry();
    this.registry = registry;
    this.contentType = registry.contentType;
    this.nearExpiryMs = opts.credentialNearExpiryMs ?? DEFAULT_NEAR_EXPIRY_MS;
    this.now = opts.now ?? Date.now;
    const p = opts.prefix ?? DEFAULT_PREFIX;
    const registers = [registry];
    // prom-client calls a gauge's `collect` with the gauge as `this`; `self` reaches our state.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;

    const counter = (name: string, help: string) => new FastCounter(`${p}${name}`, help, registry);
    const histogram = (name: string, help: string, bounds: readonly number[]) =>
      new FastHistogram(`${p}${name}`, help, registry, bounds);
    // Fixed label sets are created (at 0) up front, so rate() and dashboards see every series.
    const perValue = <V extends string, C>(values: readonly V[], make: (v: V) => C): Record<V, C> =>
      Object.fromEntries(values.map((v) => [v, make(v)])) as Record<V, C>;

    this.httpRequests = counter('http_requests_total', 'HTTP requests served, by route template, method and status.');
    this.httpDuration = histogram(
      'http_request_duration_seconds',
      'Time from request start to the end of the response (whole stream for SSE).',
      BUCKETS.http,
    );

    const ttfb = histogram(
      'time_to_first_byte_seconds',
      'Time from request start to the first byte sent to the client, by model family.',
      BUCKETS.firstByte,
    );
    this.ttfb = perValue(MODEL_FAMILIES, (model) => ttfb.cell({ model }));
    const streamDuration = histogram(
      'stream_duration_seconds',
      'Duration of upstream-backed responses from start to end, by model family.',
      BUCKETS.stream,
    );
    this.streamDuration = perValue(MODEL_FAMILIES, (model) => streamDuration.cell({ model }));
    new Gauge({
      name: `${p}inflight_streams`,
      help: 'Upstream-backed responses in progress on this replica (HPA custom metric).',
      registers,
      collect: function (this: Gauge): void {
        this.set(self.inflight);
      },
    });

    const inputTokens = counter('input_tokens_total', 'Input tokens reported to clients, by model family.');
    this.inputTokens = perValue(MODEL_FAMILIES, (model) => inputTokens.cell({ model }));
    const outputTokens = counter('output_tokens_total', 'Output tokens reported to clients, by model family.');
    this.outputTokens = perValue(MODEL_FAMILIES, (model) => outputTokens.cell({ model }));

    this.credits = counter(
      'credits_total',
      'Kiro credits metered by meteringEvents (not tokens), by credential id and model family.',
    );
    this.upstreamCalls = counter('upstream_calls_total', 'Upstream (Kiro) HTTP calls by outcome class and credential id.');
    const upstreamDuration = histogram(
      'upstream_call_duration_seconds',
      'Time from sending an upstream call to its first decoded event frame (or failure), by outcome class.',
      BUCKETS.upstream,
    );
    this.upstreamDuration = perValue(OUTCOME_CLASSES, (outcome) => upstreamDuration.cell({ outcome }));
    const retries = counter(
      'upstream_retries_total',
      'Upstream attempts retried after a transient failure, by the outcome that caused them.',
    );
    this.retries = perValue(OUTCOME_CLASSES, (outcome) => retries.cell({ outcome }));
    const failovers = counter(
      'credential_failovers_total',
      'Switches to another credential within a request, by the outcome that caused them.',
    );
    this.failovers = perValue(OUTCOME_CLASSES, (outcome) => failovers.cell({ outcome }));

    this.frames = counter('eventstream_frames_total', 'AWS event-stream frames decoded from upstream responses.').cell();
    this.frameBytes = counter(
      'eventstream_bytes_total',
      'Bytes of AWS event-stream frames decoded from upstream responses.',
    ).cell();
    this.crcErrors = counter(
      'eventstream_crc_errors_total',
      'Event-stream frames rejected for a bad prelude or message CRC.',
    ).cell();
    const sseEvents = counter('sse_events_total', 'SSE events written to clients, by event name.');
    this.sseEvents = SSE_EVENT_TYPES.map((event) => sseEvents.cell({ event }));
    this.sseIndex = Object.freeze(Object.fromEntries(SSE_EVENT_TYPES.map((t, i) => [t, i])) as Record<string, number>);
    this.clientDisconnects = counter(
      'client_disconnects_total',
      'Responses whose client closed the connection before the response was complete.',
    ).cell();

    registerCredentialGauges(registry, p, {
      records: () => this.credentialSource?.() ?? [],
      now: () => this.now(),
      nearExpiryMs: this.nearExpiryMs,
    });

    registerHealthGauges(registry, p, () => this.healthSource?.());

    const refreshes = counter('token_refreshes_total', 'Token refresh attempts by outcome.');
    this.refreshes = perValue(REFRESH_OUTCOMES, (outcome) => refreshes.cell({ outcome }));
    this.lockWait = histogram(
      'refresh_lock_wait_seconds',
      'Time spent waiting for a credential refresh lock.',
      BUCKETS.lockWait,
    ).cell();
    this.lockContention = counter(
      'refresh_lock_contention_total',
      'Refresh lock acquisitions that found the lock held by another request or replica.',
    ).cell();

    this.redisCommands = new Set([...DEFAULT_REDIS_COMMANDS, ...(opts.redisCommands ?? [])].map((c) => c.toLowerCase()));
    this.redisDuration = histogram(
      'redis_command_duration_seconds',
      'Redis command latency by command (unknown commands are labelled other).',
      BUCKETS.redis,
    );
    this.redisErrors = counter('redis_errors_total', 'Redis commands that failed, by command.');

    const admitted = counter('admission_admitted_total', 'Upstream-backed requests admitted, at once (immediate) or after waiting (queued).');
    this.admitted = perValue(ADMISSION_PATHS, (path) => admitted.cell({ path }));
    const shed = counter(
      'admission_shed_total',
      'Requests refused with 529 by admission control: queue full, or no slot within the queue timeout.',
    );
    this.shed = perValue(SHED_REASONS, (reason) => shed.cell({ reason }));
    this.admissionWait = histogram(
      'admission_queue_wait_seconds',
      'Time requests admitted after queueing waited for a slot.',
      BUCKETS.admissionWait,
    ).cell();
    const admissionGauge = (name: string, help: string, read: (s: AdmissionSnapshot) => number) =>
      new Gauge({
        name: `${p}${name}`,
        help,
        registers,
        collect: function (this: Gauge): void {
          const snapshot = self.admissionSource?.();
          this.set(snapshot ? read(snapshot) : 0);
        },
      });
    admissionGauge('admission_active', 'Upstream-backed requests holding an admission slot on this replica.', (s) => s.active);
    admissionGauge('admission_queued', 'Requests waiting for an admission slot on this replica.', (s) => s.queued);
    admissionGauge('admission_limit', 'Admission limit of this replica (admission.maxConcurrentUpstream; 0 = none).', (s) => s.limit);
    this.slowClientCutoffs = counter(
      'slow_client_cutoffs_total',
      'Streams cut off because the client read nothing for sse.writeStallTimeoutMs with its socket buffer full.',
    ).cell();

    if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry });
  }

  /** Counts one finished HTTP request; `route` must be a template (see `createMetricsMiddleware`). */
  recordHttpRequest(route: string, method: string, status: number, seconds: number): void {
    const m = (HTTP_METHODS as readonly string[]).includes(method) ? method : 'OTHER';
    const s = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
    const key = `${route} ${m} ${s}`;
    let cells = this.httpCells.get(key);
    if (!cells) {
      const labels = { route, method: m, status: s };
      cells = { count: this.httpRequests.cell(labels), duration: this.httpDuration.cell(labels) };
      if (this.httpCells.size < LABEL_CACHE_LIMIT) this.httpCells.set(key, cells);
    }
    cells.count.value++;
    cells.duration.observe(seconds);
  }

  /** Counts a response whose client left before it was complete. */
  recordClientDisconnect(): void {
    this.clientDisconnects.value++;
  }

  /**
   * Starts timing one upstream-backed response (streaming or not) and enters the in-flight gauge
   * the HPA scales on. Call `end()` in a `finally`, or the gauge leaks.
   *
   * @param model any model string; only its family is used.
   * @param startedAt `performance.now()` when the request started (default: now).
   */
  startStream(model: string, startedAt: number = performance.now()): StreamMetrics {
    const family = modelFamily(model);
    this.inflight++;
    let sentFirstByte = false;
    let ended = false;
    return {
      firstByte: (): void => {
        if (sentFirstByte) return;
        sentFirstByte = true;
        this.ttfb[family].observe((performance.now() - startedAt) / 1000);
      },
      end: (): void => {
        if (ended) return;
        ended = true;
        this.inflight--;
        this.streamDuration[family].observe((performance.now() - startedAt) / 1000);
      },
    };
  }

  /** In-flight upstream-backed responses on this replica (what `inflight_streams` exports). */
  get inflightStreams(): number {
    return this.inflight;
  }

  /** Adds the usage of one response. */
  recordTokens(model: string, inputTokens: number, outputTokens: number): void {
    const family = modelFamily(model);
    if (inputTokens > 0) this.inputTokens[family].value += inputTokens;
    if (outputTokens > 0) this.outputTokens[family].value += outputTokens;
  }

  /** Adds the Kiro credits one request used. */
  recordCredits(credentialId: number, model: string, credits: number): void {
    const family = modelFamily(model);
    const c = credentialLabel(credentialId);
    const key = `${c} ${family}`;
    let cell = this.creditCells.get(key);
    if (!cell) {
      cell = this.credits.cell({ credential: c, model: family });
      if (this.creditCells.size < LABEL_CACHE_LIMIT) this.creditCells.set(key, cell);
    }
    cell.value += credits;
  }

  /** Counts one upstream HTTP call and its latency (to response headers or failure). */
  recordUpstreamCall(outcome: OutcomeClass, seconds: number, credentialId: number): void {
    const o = knownOutcome(outcome);
    const c = credentialLabel(credentialId);
    const key = `${o} ${c}`;
    let cell = this.upstreamCallCells.get(key);
    if (!cell) {
      cell = this.upstreamCalls.cell({ outcome: o, credential: c });
      if (this.upstreamCallCells.size < LABEL_CACHE_LIMIT) this.upstreamCallCells.set(key, cell);
    }
    cell.value++;
    this.upstreamDuration[o].observe(seconds);
  }

  /** Counts a retry (same or next credential) caused by `outcome`. */
  recordRetry(outcome: OutcomeClass): void {
    this.retries[knownOutcome(outcome)].value++;
  }

  /** Counts a switch to another credential caused by `outcome`. */
  recordFailover(outcome: OutcomeClass): void {
    this.failovers[knownOutcome(outcome)].value++;
  }

  /** Counts one decoded event-stream frame of `bytes` bytes. Hot path: two additions. */
  recordFrame(bytes: number): void {
    this.frames.value++;
    this.frameBytes.value += bytes;
  }

  /** Counts one frame rejected for a bad CRC. */
  recordCrcError(): void {
    this.crcErrors.value++;
  }

  /** Counts one SSE event written to a client (unknown names count as `other`). Hot path. */
  recordSseEvent(event: string): void {
    this.sseEvents[this.sseIndex[event] ?? SSE_EVENT_TYPES.length - 1].value++;
  }

  /** Counts one token-refresh attempt. */
  recordRefresh(outcome: RefreshOutcome): void {
    (this.refreshes[outcome] ?? this.refreshes.rejected).value++;
  }

  /** Observes the wait for a refresh lock; `contended` when it was held by someone else. */
  observeRefreshLockWait(seconds: number, contended: boolean): void {
    this.lockWait.observe(seconds);
    if (contended) this.lockContention.value++;
  }

  /** Observes one Redis command; `failed` also counts it in `redis_errors_total`. */
  observeRedisCommand(command: string, seconds: number, failed = false): void {
    let cells = this.redisCells.get(command);
    if (!cells) {
      const lower = command.toLowerCase();
      const label = { command: this.redisCommands.has(lower) ? lower : 'other' };
      cells = { duration: this.redisDuration.cell(label), errors: this.redisErrors.cell(label) };
      if (this.redisCells.size < LABEL_CACHE_LIMIT) this.redisCells.set(command, cells);
    }
    cells.duration.observe(seconds);
    if (failed) cells.errors.value++;
  }

  /** Counts what admission control did with one request. */
  recordAdmission(e: AdmissionEvent): void {
    if (e.type === 'shed') {
      this.shed[e.reason].value++;
      return;
    }
    this.admitted[e.queued ? 'queued' : 'immediate'].value++;
    if (e.queued) this.admissionWait.observe(e.waitMs / 1000);
  }

  /** Where the admission gauges read from at scrape time. */
  setAdmissionSource(source: () => AdmissionSnapshot): void {
    this.admissionSource = source;
  }

  /** Counts a stream cut off because its client stopped reading. */
  recordSlowClientCutoff(): void {
    this.slowClientCutoffs.value++;
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
