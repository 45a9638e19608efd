/**
 * Prometheus metrics (prom-client). Every name is `kiro_gateway_<thing>_<unit>`, and every label
 * value comes from a fixed, small set (route templates, model families, outcome classes,
 * credential ids) — never a raw URL, model string, request id or secret.
 *
 * Hot paths (one call per upstream frame or SSE event) only bump plain numbers; they are moved
 * into the prom-client counters when Prometheus scrapes (`collect`). prom-client's own `inc()`
 * hashes its labels and allocates on every call, which is fine per request but not per chunk.
 */
import { performance } from 'node:perf_hooks';
import type { Context, Middleware, Next } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CredentialRecord, DisabledReason } from '../credentials/types.js';
import { UNMATCHED_ROUTE, matchedRoute, responseStatus, whenResponseDone } from './logger.js';

/**
 * Outcome classes of one upstream call (docs/kiro-protocol.md §9.2). `canceled` is for calls the
 * gateway aborted because the client went away, so they do not count as upstream failures.
 */
export const OUTCOME_CLASSES = [
  'ok',
  'auth',
  'quota',
  'rate_limited',
  'server_error',
  'network',
  'bad_request',
  'truncated',
  'canceled',
] as const;
/** One of {@link OUTCOME_CLASSES}. */
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

/** True for outcomes that mean the upstream (or its credential) failed, not the client. */
export function isFailureOutcome(outcome: string): boolean {
  return outcome !== 'ok' && outcome !== 'bad_request' && outcome !== 'canceled';
}

/** Model families used as the `model` label; client model strings are unbounded. */
export const MODEL_FAMILIES = ['sonnet', 'opus', 'haiku', 'other'] as const;
/** One of {@link MODEL_FAMILIES}. */
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/**
 * Maps any model string (Anthropic `claude-sonnet-4-5-20250929`, Kiro `CLAUDE_SONNET_4_5_…`, or a
 * family name itself) to its family. No allocation.
 */
export function modelFamily(model: string): ModelFamily {
  if (/opus/i.test(model)) return 'opus';
  if (/sonnet/i.test(model)) return 'sonnet';
  if (/haiku/i.test(model)) return 'haiku';
  return 'other';
}

/**
 * Results of one token-refresh attempt: `skipped` = another holder refreshed while we waited
 * for the lock; `invalid_grant` = the refresh token is dead; `rejected` = any other HTTP error;
 * `network` = no answer; `lock_failed` = the refresh lock could not be taken.
 */
export const REFRESH_OUTCOMES = ['ok', 'skipped', 'invalid_grant', 'rejected', 'network', 'lock_failed'] as const;
/** One of {@link REFRESH_OUTCOMES}. */
export type RefreshOutcome = (typeof REFRESH_OUTCOMES)[number];

/** SSE event names counted individually; anything else is counted as `other`. */
export const SSE_EVENT_TYPES = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
  'other',
] as const;

/** `reason` label values of the disabled-credentials gauge; unknown reasons become `Other`. */
export const DISABLED_REASONS = [
  'Manual',
  'TooManyFailures',
  'TooManyRefreshFailures',
  'QuotaExceeded',
  'InvalidRefreshToken',
  'InvalidConfig',
  'Suspended',
  'Other',
] as const satisfies ReadonlyArray<DisabledReason | 'Other'>;

/** Redis commands timed under their own name (lower case); others are labelled `other`. */
export const DEFAULT_REDIS_COMMANDS: readonly string[] = [
  'get', 'set', 'del', 'exists', 'expire', 'pexpire', 'incr', 'incrby', 'mget', 'mset',
  'hget', 'hset', 'hmget', 'hgetall', 'hdel', 'hincrby', 'sadd', 'srem', 'smembers',
  'zadd', 'zrem', 'zrange', 'eval', 'evalsha', 'script', 'publish', 'subscribe',
  'psubscribe', 'ping', 'scan', 'multi', 'exec', 'info',
];

/** `method` label values; anything else is `OTHER`. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Buckets (seconds). Streams may last minutes (upstream timeout 720 s). */
const BUCKETS = {
  http: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 720],
  firstByte: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60],
  stream: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300, 600, 900],
  upstream: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60],
  lockWait: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  redis: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
} as const;

const DEFAULT_PREFIX = 'kiro_gateway_';
/** An access token this close to `expiresAt` counts as near expiry (kiro.rs refreshes at 10 min). */
const DEFAULT_NEAR_EXPIRY_MS = 10 * 60 * 1000;
const MAX_CREDENTIAL_ID = 99_999;
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

type CounterChild = { inc(value?: number): void };
type HistogramChild = { observe(value: number): void };

/**
 * All gateway metrics, registered on one registry. Create one per process and pass it to the
 * components that record; serve {@link GatewayMetrics.metricsText} on the metrics port.
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
 * - `token_refreshes_total` {outcome}; `refresh_lock_wait_seconds`; `refresh_lock_contention_total`
 * - `redis_command_duration_seconds`, `redis_errors_total` {command}
 */
export class GatewayMetrics {
  /** The registry holding every metric (default process metrics included when enabled). */
  readonly registry: Registry;
  /** Content-Type for the exposition text. */
  readonly contentType: string;

  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  private readonly httpChildren = new Map<string, { count: CounterChild; duration: HistogramChild }>();

  private readonly ttfb: Record<ModelFamily, HistogramChild>;
  private readonly streamDuration: Record<ModelFamily, HistogramChild>;
  private readonly inputTokens: Record<ModelFamily, CounterChild>;
  private readonly outputTokens: Record<ModelFamily, CounterChild>;

  private readonly upstreamCalls: Counter<'outcome' | 'credential'>;
  private readonly upstreamCallChildren = new Map<string, CounterChild>();
  private readonly upstreamDuration: Record<OutcomeClass, HistogramChild>;
  private readonly retries: Record<OutcomeClass, CounterChild>;
  private readonly failovers: Record<OutcomeClass, CounterChild>;

  private readonly refreshes: Record<RefreshOutcome, CounterChild>;
  private readonly lockWait: Histogram;
  private readonly lockContention: Counter;
  private readonly clientDisconnects: Counter;

  private readonly redisDuration: Histogram<'command'>;
  private readonly redisErrors: Counter<'command'>;
  private readonly redisCommands: ReadonlySet<string>;
  private readonly redisLabels = new Map<string, string>();
  private readonly redisChildren = new Map<string, { duration: HistogramChild; errors: CounterChild }>();

  // Hot-path accumulators, flushed into their counters at scrape time.
  private pendingFrames = 0;
  private pendingFrameBytes = 0;
  private pendingCrcErrors = 0;
  private readonly pendingSse = new Float64Array(SSE_EVENT_TYPES.length);
  private readonly sseIndex: Readonly<Record<string, number>>;
  private inflight = 0;

  private credentialSource: (() => readonly CredentialRecord[]) | undefined;
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
    // prom-client calls `collect` with the metric as `this`; `self` reaches our accumulators.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;

    this.httpRequests = new Counter({
      name: `${p}http_requests_total`,
      help: 'HTTP requests served, by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'Time from request start to the end of the response (whole stream for SSE).',
      labelNames: ['route', 'method', 'status'],
      buckets: [...BUCKETS.http],
      registers,
    });

    const byModel = <T>(make: (family: ModelFamily) => T): Record<ModelFamily, T> =>
      Object.fromEntries(MODEL_FAMILIES.map((f) => [f, make(f)])) as Record<ModelFamily, T>;
    const byOutcome = <T>(make: (outcome: OutcomeClass) => T): Record<OutcomeClass, T> =>
      Object.fromEntries(OUTCOME_CLASSES.map((o) => [o, make(o)])) as Record<OutcomeClass, T>;
    // Fixed label sets are exported at 0 from the start, so rate() and dashboards see every series.
    const counterChild = <L extends string>(c: Counter<L>, label: L, value: string): CounterChild => {
      c.inc({ [label]: value } as Partial<Record<L, string>>, 0);
      return c.labels({ [label]: value } as Partial<Record<L, string>>);
    };
    const histogramChild = <L extends string>(h: Histogram<L>, label: L, value: string): HistogramChild => {
      h.zero({ [label]: value } as Partial<Record<L, string>>);
      return h.labels({ [label]: value } as Partial<Record<L, string>>);
    };

    const ttfb = new Histogram({
      name: `${p}time_to_first_byte_seconds`,
      help: 'Time from request start to the first byte sent to the client, by model family.',
      labelNames: ['model'],
      buckets: [...BUCKETS.firstByte],
      registers,
    });
    this.ttfb = byModel((f) => histogramChild(ttfb, 'model', f));
    const streamDuration = new Histogram({
      name: `${p}stream_duration_seconds`,
      help: 'Duration of upstream-backed responses from start to end, by model family.',
      labelNames: ['model'],
      buckets: [...BUCKETS.stream],
      registers,
    });
    this.streamDuration = byModel((f) => histogramChild(streamDuration, 'model', f));
    new Gauge({
      name: `${p}inflight_streams`,
      help: 'Upstream-backed responses in progress on this replica (HPA custom metric).',
      registers,
      collect: function (this: Gauge): void {
        this.set(self.inflight);
      },
    });

    const inputTokens = new Counter({
      name: `${p}input_tokens_total`,
      help: 'Input tokens reported to clients, by model family.',
      labelNames: ['model'],
      registers,
    });
    this.inputTokens = byModel((f) => counterChild(inputTokens, 'model', f));
    const outputTokens = new Counter({
      name: `${p}output_tokens_total`,
      help: 'Output tokens reported to clients, by model family.',
      labelNames: ['model'],
      registers,
    });
    this.outputTokens = byModel((f) => counterChild(outputTokens, 'model', f));

    this.upstreamCalls = new Counter({
      name: `${p}upstream_calls_total`,
      help: 'Upstream (Kiro) HTTP calls by outcome class and credential id.',
      labelNames: ['outcome', 'credential'],
      registers,
    });
    const upstreamDuration = new Histogram({
      name: `${p}upstream_call_duration_seconds`,
      help: 'Time from sending an upstream call to its response headers (or failure), by outcome class.',
      labelNames: ['outcome'],
      buckets: [...BUCKETS.upstream],
      registers,
    });
    this.upstreamDuration = byOutcome((o) => histogramChild(upstreamDuration, 'outcome', o));
    const retries = new Counter({
      name: `${p}upstream_retries_total`,
      help: 'Upstream attempts retried after a transient failure, by the outcome that caused them.',
      labelNames: ['outcome'],
      registers,
    });
    this.retries = byOutcome((o) => counterChild(retries, 'outcome', o));
    const failovers = new Counter({
      name: `${p}credential_failovers_total`,
      help: 'Switches to another credential within a request, by the outcome that caused them.',
      labelNames: ['outcome'],
      registers,
    });
    this.failovers = byOutcome((o) => counterChild(failovers, 'outcome', o));

    new Counter({
      name: `${p}eventstream_frames_total`,
      help: 'AWS event-stream frames decoded from upstream responses.',
      registers,
      collect: function (this: Counter): void {
        self.flushInto(this, 'pendingFrames');
      },
    });
    new Counter({
      name: `${p}eventstream_bytes_total`,
      help: 'Bytes of AWS event-stream frames decoded from upstream responses.',
      registers,
      collect: function (this: Counter): void {
        self.flushInto(this, 'pendingFrameBytes');
      },
    });
    new Counter({
      name: `${p}eventstream_crc_errors_total`,
      help: 'Event-stream frames rejected for a bad prelude or message CRC.',
      registers,
      collect: function (this: Counter): void {
        self.flushInto(this, 'pendingCrcErrors');
      },
    });
    this.sseIndex = Object.freeze(
      Object.fromEntries(SSE_EVENT_TYPES.map((t, i) => [t, i])) as Record<string, number>,
    );
    const pendingSse = this.pendingSse;
    new Counter({
      name: `${p}sse_events_total`,
      help: 'SSE events written to clients, by event name.',
      labelNames: ['event'],
      registers,
      collect: function (this: Counter<'event'>): void {
        for (let i = 0; i < pendingSse.length; i++) {
          const n = pendingSse[i];
          pendingSse[i] = 0;
          // inc(0) still creates the series, so every event name is always exported.
          this.inc({ event: SSE_EVENT_TYPES[i] }, n);
        }
      },
    });
    this.clientDisconnects = new Counter({
      name: `${p}client_disconnects_total`,
      help: 'Responses whose client closed the connection before the response was complete.',
      registers,
    });

    new Gauge({
      name: `${p}credentials_enabled`,
      help: 'Credentials currently enabled (scrape time).',
      registers,
      collect: function (this: Gauge): void {
        this.set(self.countCredentials((r) => !r.credential.disabled));
      },
    });
    new Gauge({
      name: `${p}credentials_disabled`,
      help: 'Credentials currently disabled, by reason (scrape time).',
      labelNames: ['reason'],
      registers,
      collect: function (this: Gauge<'reason'>): void {
        const counts = new Map<string, number>(DISABLED_REASONS.map((r) => [r, 0]));
        for (const r of self.credentialRecords()) {
          if (!r.credential.disabled) continue;
          const reason = r.credential.disabledReason ?? 'Manual';
          const key = counts.has(reason) ? reason : 'Other';
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const [reason, n] of counts) this.set({ reason }, n);
      },
    });
    new Gauge({
      name: `${p}credentials_near_expiry`,
      help: 'Enabled credentials whose access token expires within the refresh window (scrape time).',
      registers,
      collect: function (this: Gauge): void {
        const limit = self.now() + self.nearExpiryMs;
        this.set(
          self.countCredentials((r) => {
            if (r.credential.disabled || r.credential.authMethod === 'api_key') return false;
            const expiresAt = r.credential.expiresAt ? Date.parse(r.credential.expiresAt) : NaN;
            return Number.isFinite(expiresAt) && expiresAt <= limit;
          }),
        );
      },
    });
    new Gauge({
      name: `${p}credentials_cooling_down`,
      help: 'Enabled credentials skipped until a rate-limit cooldown ends (scrape time).',
      registers,
      collect: function (this: Gauge): void {
        const now = self.now();
        this.set(self.countCredentials((r) => !r.credential.disabled && (r.stats.cooldownUntil ?? 0) > now));
      },
    });
    new Gauge({
      name: `${p}credential_enabled`,
      help: '1 if the credential is enabled, 0 if disabled, per credential id (scrape time).',
      labelNames: ['credential'],
      registers,
      collect: function (this: Gauge<'credential'>): void {
        this.reset(); // drop removed credentials
        for (const r of self.credentialRecords()) {
          this.set({ credential: credentialLabel(r.credential.id) }, r.credential.disabled ? 0 : 1);
        }
      },
    });

    const refreshes = new Counter({
      name: `${p}token_refreshes_total`,
      help: 'Token refresh attempts by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.refreshes = Object.fromEntries(REFRESH_OUTCOMES.map((o) => [o, counterChild(refreshes, 'outcome', o)])) as Record<
      RefreshOutcome,
      CounterChild
    >;
    this.lockWait = new Histogram({
      name: `${p}refresh_lock_wait_seconds`,
      help: 'Time spent waiting for a credential refresh lock.',
      buckets: [...BUCKETS.lockWait],
      registers,
    });
    this.lockContention = new Counter({
      name: `${p}refresh_lock_contention_total`,
      help: 'Refresh lock acquisitions that found the lock held by another request or replica.',
      registers,
    });

    this.redisCommands = new Set([...DEFAULT_REDIS_COMMANDS, ...(opts.redisCommands ?? [])].map((c) => c.toLowerCase()));
    this.redisDuration = new Histogram({
      name: `${p}redis_command_duration_seconds`,
      help: 'Redis command latency by command (unknown commands are labelled other).',
      labelNames: ['command'],
      buckets: [...BUCKETS.redis],
      registers,
    });
    this.redisErrors = new Counter({
      name: `${p}redis_errors_total`,
      help: 'Redis commands that failed, by command.',
      labelNames: ['command'],
      registers,
    });

    if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry });
  }

  private flushInto(counter: Counter, field: 'pendingFrames' | 'pendingFrameBytes' | 'pendingCrcErrors'): void {
    const n = this[field];
    if (n === 0) return;
    this[field] = 0;
    counter.inc(n);
  }

  private credentialRecords(): readonly CredentialRecord[] {
    return this.credentialSource?.() ?? [];
  }

  private countCredentials(predicate: (r: CredentialRecord) => boolean): number {
    let n = 0;
    for (const r of this.credentialRecords()) if (predicate(r)) n++;
    return n;
  }

  /** Counts one finished HTTP request; `route` must be a template (see `createMetricsMiddleware`). */
  recordHttpRequest(route: string, method: string, status: number, seconds: number): void {
    const m = (HTTP_METHODS as readonly string[]).includes(method) ? method : 'OTHER';
    const s = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
    const key = `${route} ${m} ${s}`;
    let children = this.httpChildren.get(key);
    if (!children) {
      children = { count: this.httpRequests.labels(route, m, s), duration: this.httpDuration.labels(route, m, s) };
      if (this.httpChildren.size < LABEL_CACHE_LIMIT) this.httpChildren.set(key, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  }

  /** Counts a response whose client left before it was complete. */
  recordClientDisconnect(): void {
    this.clientDisconnects.inc();
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
    if (inputTokens > 0) this.inputTokens[family].inc(inputTokens);
    if (outputTokens > 0) this.outputTokens[family].inc(outputTokens);
  }

  /** Counts one upstream HTTP call and its latency (to response headers or failure). */
  recordUpstreamCall(outcome: OutcomeClass, seconds: number, credentialId: number): void {
    const o = knownOutcome(outcome);
    const c = credentialLabel(credentialId);
    const key = `${o} ${c}`;
    let child = this.upstreamCallChildren.get(key);
    if (!child) {
      child = this.upstreamCalls.labels(o, c);
      if (this.upstreamCallChildren.size < LABEL_CACHE_LIMIT) this.upstreamCallChildren.set(key, child);
    }
    child.inc();
    this.upstreamDuration[o].observe(seconds);
  }

  /** Counts a retry (same or next credential) caused by `outcome`. */
  recordRetry(outcome: OutcomeClass): void {
    this.retries[knownOutcome(outcome)].inc();
  }

  /** Counts a switch to another credential caused by `outcome`. */
  recordFailover(outcome: OutcomeClass): void {
    this.failovers[knownOutcome(outcome)].inc();
  }

  /** Counts one decoded event-stream frame of `bytes` bytes. Hot path: no allocation. */
  recordFrame(bytes: number): void {
    this.pendingFrames++;
    this.pendingFrameBytes += bytes;
  }

  /** Counts one frame rejected for a bad CRC. */
  recordCrcError(): void {
    this.pendingCrcErrors++;
  }

  /** Counts one SSE event written to a client. Hot path: no allocation. */
  recordSseEvent(event: string): void {
    this.pendingSse[this.sseIndex[event] ?? SSE_EVENT_TYPES.length - 1]++;
  }

  /** Counts one token-refresh attempt. */
  recordRefresh(outcome: RefreshOutcome): void {
    (this.refreshes[outcome] ?? this.refreshes.rejected).inc();
  }

  /** Observes the wait for a refresh lock; `contended` when it was held by someone else. */
  observeRefreshLockWait(seconds: number, contended: boolean): void {
    this.lockWait.observe(seconds);
    if (contended) this.lockContention.inc();
  }

  /** Observes one Redis command; `failed` also counts it in `redis_errors_total`. */
  observeRedisCommand(command: string, seconds: number, failed = false): void {
    const label = this.redisLabel(command);
    let children = this.redisChildren.get(label);
    if (!children) {
      children = { duration: this.redisDuration.labels(label), errors: this.redisErrors.labels(label) };
      this.redisChildren.set(label, children);
    }
    children.duration.observe(seconds);
    if (failed) children.errors.inc();
  }

  private redisLabel(command: string): string {
    const cached = this.redisLabels.get(command);
    if (cached !== undefined) return cached;
    const lower = command.toLowerCase();
    const label = this.redisCommands.has(lower) ? lower : 'other';
    if (this.redisLabels.size < LABEL_CACHE_LIMIT) this.redisLabels.set(command, label);
    return label;
  }

  /**
   * Where the credential gauges read from at scrape time (e.g. `() => store.list()`); the
   * callback must be cheap and synchronous.
   */
  setCredentialSource(source: () => readonly CredentialRecord[]): void {
    this.credentialSource = source;
  }

  /** The Prometheus text exposition of every metric in the registry. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }
}

function knownOutcome(outcome: string): OutcomeClass {
  // Unclassified outcomes are gateway bugs; count them as server errors rather than drop them.
  return (OUTCOME_CLASSES as readonly string[]).includes(outcome) ? (outcome as OutcomeClass) : 'server_error';
}

function credentialLabel(id: number): string {
  return Number.isInteger(id) && id >= 0 && id <= MAX_CREDENTIAL_ID ? String(id) : 'invalid';
}

/** Options of {@link createMetricsMiddleware}. */
export interface MetricsMiddlewareOptions {
  /** `route` label when no router route matched (default `unmatched`). */
  unmatchedRoute?: string;
}

/**
 * Koa middleware recording `http_requests_total` / `http_request_duration_seconds` with the
 * route template @koa/router matched (`ctx._matchedRoute`, else `unmatched`), and counting client
 * disconnects. Measures until `res` closes, so streamed responses (`ctx.respond = false`) are
 * timed to their end. Mount it outside the router and the error handler.
 */
export function createMetricsMiddleware(metrics: GatewayMetrics, opts: MetricsMiddlewareOptions = {}): Middleware {
  const unmatched = opts.unmatchedRoute ?? UNMATCHED_ROUTE;
  return function metricsMiddleware(ctx: Context, next: Next): Promise<void> {
    const startedAt = performance.now();
    return whenResponseDone(ctx, next, (end) => {
      const route = matchedRoute(ctx) ?? unmatched;
      metrics.recordHttpRequest(route, ctx.method, responseStatus(ctx, end), (end.endedAt - startedAt) / 1000);
      if (end.clientDisconnected) metrics.recordClientDisconnect();
    });
  };
}
