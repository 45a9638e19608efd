/**
 * The gateway's Grafana dashboards: overview, credentials, Redis and runtime. Each panel names only
 * metrics the gateway exports (test/deploy/prometheus-scrape.test.ts runs every query against a real
 * Prometheus scraping real replicas). To chart a new metric, add one `panel(...)` line to a row, e.g.
 * for admission control in Overview → Traffic:
 *   panel('Admission', 'ops', 'Requests admitted, queued and shed per second.', [q(`sum by (outcome) (${rate(`${P}admission_total`)})`, '{{outcome}}')]),
 * then `npm run dashboards`.
 */
import { OUTCOME_CLASSES, REFRESH_OUTCOMES, isFailureOutcome } from '../../src/observability/metric-labels.js';
import { SEL, panel, q, quantiles, rate, stat, type DashboardSpec } from './panels.js';

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
export const DASHBOARDS: readonly DashboardSpec[] = [overview, credentials, redis, runtime];
