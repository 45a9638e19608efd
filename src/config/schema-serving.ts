/** Settings of serving clients: logs, request limits, metrics, shutdown, SSE and admission control. */
import { setting, type SchemaTree } from './setting.js';

const MIB = 1024 * 1024;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Built per call so the `log.pretty` default reflects this process's stdout. */
export function logSettings(): SchemaTree {
  return {
    level: setting('Log level.', LOG_LEVELS, 'info', 'KIRO_LOG_LEVEL'),
    pretty: setting('Human-readable logs instead of JSON lines.', 'kiro-bool', process.stdout.isTTY === true, 'KIRO_LOG_PRETTY', {
      defaultText: 'stdout is a TTY',
    }),
  };
}

export function limitsSettings(): SchemaTree {
  return {
    bodyLimitBytes: setting(
      'Largest accepted request body (bytes).',
      'kiro-positive',
      50 * MIB,
      'KIRO_LIMITS_BODY_LIMIT_BYTES',
    ),
    maxHeaderBytes: setting(
      'Largest accepted request head (request line and headers, bytes); larger gets 431 `request_too_large`. Matches nginx\'s default header buffers (4 × 8 KB); Node\'s own default is 16 KB.',
      'kiro-positive',
      32 * 1024,
      'KIRO_LIMITS_MAX_HEADER_BYTES',
    ),
  };
}

export function metricsSettings(): SchemaTree {
  return {
    enabled: setting('Expose Prometheus metrics at /metrics.', 'kiro-bool', true, 'KIRO_METRICS_ENABLED'),
    port: setting('Separate metrics listener port; 0 = serve /metrics on the main port.', 'kiro-port', 0, 'KIRO_METRICS_PORT'),
  };
}

export function shutdownSettings(): SchemaTree {
  return {
    graceMs: setting(
      'On SIGTERM, let in-flight requests finish for this long (ms).',
      'kiro-nat',
      30_000,
      'KIRO_SHUTDOWN_GRACE_MS',
    ),
    readinessDelayMs: setting(
      'On SIGTERM, answer /readyz with 503 but keep accepting for this long (ms, within the grace period) so load balancers stop routing here first; a few seconds on Kubernetes.',
      'kiro-nat',
      0,
      'KIRO_SHUTDOWN_READINESS_DELAY_MS',
    ),
  };
}

export function sseSettings(): SchemaTree {
  return {
    pingIntervalMs: setting(
      'Send an SSE ping while the upstream is silent this long (ms); 0 = never.',
      'kiro-nat',
      25_000,
      'KIRO_SSE_PING_INTERVAL_MS',
    ),
    writeStallTimeoutMs: setting(
      'Cut off a streaming client that has read nothing for this long while its socket buffer is full (ms), so its upstream call and admission slot are freed; logged and counted in `kiro_gateway_slow_client_cutoffs_total`. A client that reads at all, however slowly, is not cut. A live client drains a full buffer in well under a second and TCP retransmission backoff after a network blip stays in the tens of seconds, while a stalled one would otherwise hold its slot until the upstream idle timeout. 0 = never.',
      'kiro-nat',
      60_000,
      'KIRO_SSE_WRITE_STALL_TIMEOUT_MS',
    ),
  };
}

export function admissionSettings(): SchemaTree {
  return {
    maxConcurrentUpstream: setting(
      'Upstream-backed requests (streams and JSON answers) one replica serves at once; more wait in a short queue, then get 529 `overloaded_error` with `retry-after`. Size it to what one replica should carry (memory, event loop) and let the autoscaler add replicas on `kiro_gateway_inflight_streams`. 0 = no limit.',
      'kiro-nat',
      256,
      'KIRO_ADMISSION_MAX_CONCURRENT_UPSTREAM',
    ),
    queueSize: setting(
      'Requests that may wait for a free upstream slot; beyond that a request is refused at once (529).',
      'kiro-nat',
      64,
      'KIRO_ADMISSION_QUEUE_SIZE',
    ),
    queueTimeoutMs: setting(
      'Longest wait for a free upstream slot (ms) before 529 with `retry-after` (this many seconds, at least 1): short, so clients retry elsewhere instead of hanging.',
      'kiro-positive',
      5_000,
      'KIRO_ADMISSION_QUEUE_TIMEOUT_MS',
    ),
  };
}
