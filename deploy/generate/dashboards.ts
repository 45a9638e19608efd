/**
 * The gateway's Grafana dashboards: overview, credentials, client keys, Redis and runtime. Each panel names only
 * metrics the gateway exports (test/deploy/prometheus-scrape.test.ts runs every query against a real
 * Prometheus scraping real replicas). To chart a new metric, add one `panel(...)` line to a row, e.g.
 * for admission control in Overview → Traffic:
 *   panel('Admission', 'ops', 'Requests admitted, queued and shed per second.', [q(`sum by (outcome) (${rate(`${P}admission_total`)})`, '{{outcome}}')]),
 * then `npm run dashboards`.
 */
import { OUTCOME_CLASSES, REFRESH_OUTCOMES, isFailureOutcome } from '../../src/observability/metric-labels.js';
import { SEL, bars, panel, q, quantiles, rate, stat, type DashboardSpec } from './panels.js';

const P = 'kiro_gateway_';
/** Upstream outcomes that mean Kiro or the credential failed (not the client, not a cancel). */
export const UPSTREAM_FAILURES = OUTCOME_CLASSES.filter(isFailureOutcome).join('|');
/** Refresh outcomes that are failures (`skipped` = someone else refreshed, fine). */
export const REFRESH_FAILURES = REFRESH_OUTCOMES.filter((o) => o !== 'ok' && o !== 'skipped').join('|');
/** Client requests that are not scrapes or probes. */
const API = 'route!~"/metrics|unmatched"';

const overview: DashboardSpec = {
  uid: 'kiro-gateway-overview',
  title: 'Kiro Gateway / Overview',
  description: 'Traffic, latency, streams, tokens and upstream outcomes of the kiro-gateway replicas.',
  rows: [
    {
      title: 'Traffic',
      panels: [
        stat('Replicas ready', 'short', 'Replicas whose /readyz answers 200.', q(`sum(${P}ready{${SEL}})`, 'ready')),
        stat('In-flight streams', 'short', 'Upstream-backed responses in progress, all replicas.', q(`sum(${P}inflight_streams{${SEL}})`, 'streams')),
        stat('Requests/s', 'reqps', 'Client API requests per second.', q(`sum(${rate(`${P}http_requests_total`, API)})`, 'req/s')),
        stat('5xx ratio', 'percentunit', 'Share of client API requests answered with a 5xx.',
          q(`(sum(${rate(`${P}http_requests_total`, `${API}, status=~"5.."`)}) or vector(0)) / sum(${rate(`${P}http_requests_total`, API)})`, '5xx')),
        panel('Requests by status', 'reqps', 'Client API requests per second by HTTP status.',
          [q(`sum by (status) (${rate(`${P}http_requests_total`, API)})`, '{{status}}')], { stacked: true }),
        panel('Requests by route', 'reqps', 'Requests per second by route template and method.',
          [q(`sum by (route, method) (${rate(`${P}http_requests_total`)})`, '{{method}} {{route}}')], { stacked: true }),
        panel('In-flight streams per pod', 'short', 'The HPA / KEDA metric: streams open on each replica.',
          [q(`sum by (pod) (${P}inflight_streams{${SEL}})`, '{{pod}}')]),
        panel('Client disconnects', 'ops', 'Responses whose client left before the end, per second.',
          [q(`sum by (pod) (${rate(`${P}client_disconnects_total`)})`, '{{pod}}')]),
      ],
    },
    {
      title: 'Latency',
      panels: [
        panel('Time to first byte', 's', 'From request start to the first byte sent to the client.', quantiles(`${P}time_to_first_byte_seconds`)),
        panel('Time to first byte p95 by model', 's', 'p95 time to first byte per model family.',
          [q(`histogram_quantile(0.95, sum by (le, model) (${rate(`${P}time_to_first_byte_seconds_bucket`)}))`, '{{model}}')]),
        panel('Stream duration', 's', 'Upstream-backed responses from start to end.', quantiles(`${P}stream_duration_seconds`)),
        panel('Request duration p95 by route', 's', 'Whole response time (whole stream for SSE) by route.',
          [q(`histogram_quantile(0.95, sum by (le, route) (${rate(`${P}http_request_duration_seconds_bucket`, API)}))`, '{{route}}')]),
      ],
    },
    {
      title: 'Tokens',
      panels: [
        panel('Tokens per second', 'short', 'Input and output tokens reported to clients, by model family.', [
          q(`sum by (model) (${rate(`${P}input_tokens_total`)})`, 'in {{model}}'),
          q(`sum by (model) (${rate(`${P}output_tokens_total`)})`, 'out {{model}}'),
        ]),
        panel('SSE events', 'ops', 'SSE events written to clients per second, by event.',
          [q(`sum by (event) (${rate(`${P}sse_events_total`)})`, '{{event}}')], { stacked: true }),
      ],
    },
    {
      title: 'Upstream',
      panels: [
        panel('Upstream calls by outcome', 'ops', 'Kiro API calls per second by outcome class.',
          [q(`sum by (outcome) (${rate(`${P}upstream_calls_total`)})`, '{{outcome}}')], { stacked: true }),
        panel('Upstream failure ratio', 'percentunit', `Share of upstream calls that failed (${UPSTREAM_FAILURES}).`, [
          q(`(sum(${rate(`${P}upstream_calls_total`, `outcome=~"${UPSTREAM_FAILURES}"`)}) or vector(0)) / sum(${rate(`${P}upstream_calls_total`, 'outcome!="canceled"')})`, 'failed'),
        ], { min: 0 }),
        panel('Upstream call duration p95 by outcome', 's', 'To response headers (or failure).',
          [q(`histogram_quantile(0.95, sum by (le, outcome) (${rate(`${P}upstream_call_duration_seconds_bucket`)}))`, '{{outcome}}')]),
        panel('Retries and failovers', 'ops', 'Retried attempts and switches to another credential, by the outcome that caused them.', [
          q(`sum by (outcome) (${rate(`${P}upstream_retries_total`)})`, 'retry {{outcome}}'),
          q(`sum by (outcome) (${rate(`${P}credential_failovers_total`)})`, 'failover {{outcome}}'),
        ]),
        panel('Event-stream frames', 'ops', 'AWS event-stream frames decoded per second, and frames rejected for a bad CRC.', [
          q(`sum(${rate(`${P}eventstream_frames_total`)})`, 'frames'),
          q(`sum(${rate(`${P}eventstream_crc_errors_total`)})`, 'CRC errors'),
        ]),
        panel('Event-stream bytes', 'Bps', 'Bytes of event-stream frames decoded per second.',
          [q(`sum by (pod) (${rate(`${P}eventstream_bytes_total`)})`, '{{pod}}')]),
      ],
    },
  ],
};

const credentials: DashboardSpec = {
  uid: 'kiro-gateway-credentials',
  title: 'Kiro Gateway / Credentials',
  description: 'The credential pool: enabled and disabled credentials, refreshes, refresh locks, quota and per-credential usage.',
  rows: [
    {
      title: 'Pool',
      panels: [
        // Every replica sees the same pool (Redis); max over pods shows it once.
        stat('Enabled', 'short', 'Credentials currently enabled.', q(`max(${P}credentials_enabled{${SEL}})`, 'enabled')),
        stat('Disabled', 'short', 'Credentials currently disabled, any reason.', q(`max(sum by (pod) (${P}credentials_disabled{${SEL}}))`, 'disabled')),
        stat('Cooling down', 'short', 'Enabled credentials skipped until a rate-limit cooldown ends.', q(`max(${P}credentials_cooling_down{${SEL}})`, 'cooling down')),
        stat('Near expiry', 'short', 'Enabled credentials whose access token expires within the refresh window.', q(`max(${P}credentials_near_expiry{${SEL}})`, 'near expiry')),
        panel('Disabled by reason', 'short', 'Disabled credentials by reason.',
          [q(`max by (reason) (${P}credentials_disabled{${SEL}})`, '{{reason}}')], { stacked: true }),
        panel('Enabled per credential', 'short', '1 while a credential is enabled, 0 while disabled.',
          [q(`max by (credential) (${P}credential_enabled{${SEL}})`, 'credential {{credential}}')], { min: 0 }),
      ],
    },
    {
      title: 'Refreshes and locks',
      panels: [
        panel('Token refreshes by outcome', 'ops', `Refresh attempts per second; failures are ${REFRESH_FAILURES}.`,
          [q(`sum by (outcome) (${rate(`${P}token_refreshes_total`)})`, '{{outcome}}')], { stacked: true }),
        panel('Refresh lock wait', 's', 'Time spent waiting for a credential refresh lock.', quantiles(`${P}refresh_lock_wait_seconds`)),
        panel('Refresh lock contention', 'ops', 'Lock acquisitions that found the lock held by another request or replica.',
          [q(`sum by (pod) (${rate(`${P}refresh_lock_contention_total`)})`, '{{pod}}')]),
      ],
    },
    {
      title: 'Quota and usage',
      panels: [
        panel('Calls per credential', 'ops', 'Upstream calls per second by credential id.',
          [q(`sum by (credential) (${rate(`${P}upstream_calls_total`)})`, 'credential {{credential}}')], { stacked: true }),
        panel('Failures per credential', 'ops', 'Failed upstream calls per second by credential id and outcome.',
          [q(`sum by (credential, outcome) (${rate(`${P}upstream_calls_total`, `outcome=~"${UPSTREAM_FAILURES}"`)})`, 'credential {{credential}} {{outcome}}')]),
        panel('Quota and rate limits', 'ops', 'Calls answered quota-exhausted or rate-limited, by credential.', [
          q(`sum by (credential) (${rate(`${P}upstream_calls_total`, 'outcome="quota"')})`, 'quota {{credential}}'),
          q(`sum by (credential) (${rate(`${P}upstream_calls_total`, 'outcome="rate_limited"')})`, 'rate limited {{credential}}'),
        ]),
        panel('Credentials disabled for quota', 'short', 'Credentials disabled because their monthly quota is used up.',
          [q(`max(${P}credentials_disabled{${SEL}, reason="QuotaExceeded"})`, 'quota exceeded')], { min: 0 }),
      ],
    },
  ],
};

/** The client keys dashboard's `$key` matcher, on every metric labelled by key id. */
export const KEY = 'key=~"$key"';
/** Metrics labelled by client key id (never the key itself: `config` is the configured apiKey). */
export const KEY_METRICS = ['requests', 'errors', 'tokens', 'credits', 'rate_limited'].map((m) => `${P}client_key_${m}_total`);
const [KEY_REQUESTS, KEY_ERRORS, KEY_TOKENS, KEY_CREDITS, KEY_LIMITED] = KEY_METRICS as [string, string, string, string, string];
/** `rate()` of a key-labelled counter on the selected keys. */
const keyRate = (metric: string, matchers = '') => rate(metric, matchers ? `${KEY}, ${matchers}` : KEY);
/** What a key-labelled counter added over `range`, on the selected keys. */
const keyIncrease = (metric: string, range: string) => `increase(${metric}{${SEL}, ${KEY}}[${range}])`;
const LIMIT_CHECK = `${P}client_key_limit_check_seconds`;

const clientKeys: DashboardSpec = {
  uid: 'kiro-gateway-client-keys',
  title: 'Kiro Gateway / Client keys',
  description:
    "Managed client keys: requests, errors, tokens and credits per key, requests refused by a key's limits, the limit check's latency and replicas enforcing limits locally. Labels are key ids (config = the configured apiKey), never keys.",
  variables: [{ name: 'key', label: 'Key id', metric: KEY_REQUESTS }],
  rows: [
    {
      title: 'Keys',
      panels: [
        stat('Requests/s', 'reqps', 'Messages requests admitted per second, selected keys.', q(`sum(${keyRate(KEY_REQUESTS)})`, 'req/s'), { width: 4 }),
        stat('Error ratio', 'percentunit', 'Share of admitted requests that failed (upstream failure, error mid-stream, shed), selected keys.',
          q(`sum(${keyRate(KEY_ERRORS)}) / sum(${keyRate(KEY_REQUESTS)})`, 'errors'), { width: 4 }),
        stat('429s/s', 'reqps', "Refusals by the keys' limits per second (a request refused by two limits at once counts under each).",
          q(`sum(${keyRate(KEY_LIMITED)}) or vector(0)`, '429/s'), { width: 4 }),
        stat('Tokens/s', 'short', 'Input + output tokens per second, selected keys.', q(`sum(${keyRate(KEY_TOKENS)})`, 'tokens/s'), { width: 4 }),
        stat('Credits, last 24 h', 'short', 'Kiro credits used by the selected keys over the last 24 hours.', q(`sum(${keyIncrease(KEY_CREDITS, '1d')})`, 'credits'), { width: 4 }),
        stat('Replicas on local limits', 'short', 'Replicas enforcing client key limits alone (their share of each) because Redis is unreachable for the limiter.',
          q(`sum(${P}client_key_limits_local{${SEL}})`, 'local'), { width: 4 }),
      ],
    },
    {
      title: 'Traffic per key',
      panels: [
        panel('Requests by key', 'reqps', 'Admitted Messages requests per second by key id.',
          [q(`sum by (key) (${keyRate(KEY_REQUESTS)})`, '{{key}}')], { stacked: true }),
        panel('Error ratio by key', 'percentunit', 'Share of each key\'s admitted requests that failed.',
          [q(`sum by (key) (${keyRate(KEY_ERRORS)}) / sum by (key) (${keyRate(KEY_REQUESTS)})`, '{{key}}')], { min: 0 }),
        panel('Tokens by key and direction', 'short', 'Tokens per second by key id, input and output.',
          [q(`sum by (key, direction) (${keyRate(KEY_TOKENS)})`, '{{key}} {{direction}}')]),
        panel('Credits per day by key', 'short', 'Kiro credits used by each key in the 24 hours before each point (the creditsPerDay limit counts since 00:00 UTC).',
          [q(`sum by (key) (${keyIncrease(KEY_CREDITS, '1d')})`, '{{key}}')], { min: 0 }),
      ],
    },
    {
      title: 'Limits',
      panels: [
        panel('429s by limit', 'reqps', "Requests refused with 429 by their key's limits per second, by the limit that refused them.",
          [q(`sum by (limit) (${keyRate(KEY_LIMITED)})`, '{{limit}}')], { stacked: true }),
        panel('429s by key and limit', 'reqps', "Refusals per second by key id and limit: a key starved by its limits, or abuse.",
          [q(`sum by (key, limit) (${keyRate(KEY_LIMITED)})`, '{{key}} {{limit}}')]),
        panel('Limit check latency', 's', 'Time to check and reserve a limited key\'s limits: one Redis call (shared) or none (local, Redis unreachable).', [
          q(`histogram_quantile(0.5, sum by (le, scope) (${rate(`${LIMIT_CHECK}_bucket`)}))`, 'p50 {{scope}}'),
          q(`histogram_quantile(0.99, sum by (le, scope) (${rate(`${LIMIT_CHECK}_bucket`)}))`, 'p99 {{scope}}'),
        ]),
        panel('Limit checks by scope', 'ops', 'Limited requests checked per second: shared (in Redis) or local (this replica alone).',
          [q(`sum by (scope) (${rate(`${LIMIT_CHECK}_count`)})`, '{{scope}}')], { stacked: true }),
        panel('Local limits per pod', 'short', "1 while a replica enforces client key limits alone with its share of each (Redis unreachable for the limiter).",
          [q(`max by (pod) (${P}client_key_limits_local{${SEL}})`, '{{pod}}')], { min: 0, max: 1, width: 24 }),
      ],
    },
    {
      title: 'Top keys over the time range',
      panels: [
        bars('Top keys by requests', 'short', 'The 10 keys with the most admitted requests over the dashboard\'s time range.',
          [q(`topk(10, sum by (key) (${keyIncrease(KEY_REQUESTS, '$__range')}))`, '{{key}}')]),
        bars('Top keys by tokens', 'short', 'The 10 keys that used the most tokens (input + output) over the time range.',
          [q(`topk(10, sum by (key) (${keyIncrease(KEY_TOKENS, '$__range')}))`, '{{key}}')]),
        bars('Top keys by credits', 'short', 'The 10 keys that used the most Kiro credits over the time range.',
          [q(`topk(10, sum by (key) (${keyIncrease(KEY_CREDITS, '$__range')}))`, '{{key}}')]),
        bars('Top keys by 429s', 'short', "The 10 keys refused most often by their limits over the time range.",
          [q(`topk(10, sum by (key) (${keyIncrease(KEY_LIMITED, '$__range')}))`, '{{key}}')]),
      ],
    },
  ],
};

const redis: DashboardSpec = {
  uid: 'kiro-gateway-redis',
  title: 'Kiro Gateway / Redis',
  description: 'The shared credential store: degraded mode, command latency and errors, per replica.',
  rows: [
    {
      title: 'State',
      panels: [
        stat('Replicas degraded', 'short', 'Replicas serving their local copy because Redis is unreachable.', q(`sum(${P}store_degraded{${SEL}})`, 'degraded')),
        stat('Replicas ready', 'short', 'Replicas whose /readyz answers 200.', q(`sum(${P}ready{${SEL}})`, 'ready')),
        stat('Redis errors/s', 'ops', 'Failed Redis commands per second, all replicas.', q(`sum(${rate(`${P}redis_errors_total`)})`, 'errors')),
        stat('Commands/s', 'ops', 'Redis commands per second, all replicas.', q(`sum(${rate(`${P}redis_command_duration_seconds_count`)})`, 'commands')),
        panel('Degraded mode per pod', 'short', '1 while the replica cannot reach Redis and serves its local copy.',
          [q(`max by (pod) (${P}store_degraded{${SEL}})`, '{{pod}}')], { min: 0 }),
      ],
    },
    {
      title: 'Commands',
      panels: [
        panel('Command latency', 's', 'Redis command latency, all commands.', quantiles(`${P}redis_command_duration_seconds`)),
        panel('Command latency p99 by command', 's', 'p99 latency per Redis command.',
          [q(`histogram_quantile(0.99, sum by (le, command) (${rate(`${P}redis_command_duration_seconds_bucket`)}))`, '{{command}}')]),
        panel('Commands by command', 'ops', 'Redis commands per second by command.',
          [q(`sum by (command) (${rate(`${P}redis_command_duration_seconds_count`)})`, '{{command}}')], { stacked: true }),
        panel('Errors by pod', 'ops', 'Failed Redis commands per second by replica.',
          [q(`sum by (pod) (${rate(`${P}redis_errors_total`)})`, '{{pod}}')]),
      ],
    },
  ],
};

const runtime: DashboardSpec = {
  uid: 'kiro-gateway-runtime',
  title: 'Kiro Gateway / Runtime',
  description: 'Node.js runtime of each replica: event-loop lag, heap, GC, RSS, CPU and restarts.',
  rows: [
    {
      title: 'Event loop and CPU',
      panels: [
        panel('Event-loop lag p99', 's', 'p99 event-loop delay per pod (a busy loop delays every stream).',
          [q(`max by (pod) (nodejs_eventloop_lag_p99_seconds{${SEL}})`, '{{pod}}')]),
        panel('Event-loop lag mean', 's', 'Mean event-loop delay per pod.', [q(`max by (pod) (nodejs_eventloop_lag_mean_seconds{${SEL}})`, '{{pod}}')]),
        panel('CPU', 'percentunit', 'CPU seconds per second per pod (1 = one core).',
          [q(`sum by (pod) (${rate('process_cpu_seconds_total')})`, '{{pod}}')]),
        panel('Restarts', 'short', 'Process starts in the last hour, per pod.',
          [q(`changes(process_start_time_seconds{${SEL}}[1h])`, '{{pod}}')], { min: 0 }),
      ],
    },
    {
      title: 'Memory and GC',
      panels: [
        panel('RSS', 'bytes', 'Resident memory per pod.', [q(`max by (pod) (process_resident_memory_bytes{${SEL}})`, '{{pod}}')]),
        panel('Heap', 'bytes', 'V8 heap used and total per pod.', [
          q(`max by (pod) (nodejs_heap_size_used_bytes{${SEL}})`, 'used {{pod}}'),
          q(`max by (pod) (nodejs_heap_size_total_bytes{${SEL}})`, 'total {{pod}}'),
        ]),
        panel('GC time', 'percentunit', 'Share of time spent in garbage collection, by pod and kind.',
          [q(`sum by (pod, kind) (${rate('nodejs_gc_duration_seconds_sum')})`, '{{pod}} {{kind}}')], { stacked: true }),
        panel('Handles and file descriptors', 'short', 'Active libuv handles and open file descriptors per pod.', [
          q(`max by (pod) (nodejs_active_handles_total{${SEL}})`, 'handles {{pod}}'),
          q(`max by (pod) (process_open_fds{${SEL}})`, 'fds {{pod}}'),
        ]),
      ],
    },
  ],
};

/** Every dashboard, in the order the files are written. */
export const DASHBOARDS: readonly DashboardSpec[] = [overview, credentials, clientKeys, redis, runtime];
