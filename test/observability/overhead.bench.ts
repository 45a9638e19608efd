/**
 * Micro-benchmarks of the observability hot paths, to keep "metrics + tracing on" within a few
 * percent of "off". Run with `npx vitest bench test/observability` (not part of `npm test`).
 *
 * What each group shows:
 * - per chunk: recording a frame / SSE event and the StreamSpan calls cost nanoseconds;
 * - per request: one span, one metrics round (HTTP + stream + tokens + upstream call);
 * - per log line: key redaction and the secret-value scrub against plain pino.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { bench, describe } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { StreamSpan, initTracing, withChildSpan, type TracingHandle } from '../../src/observability/tracing.js';

const sink = { write(_line: string): void {} };

/** Drops spans: measures the SDK, not an exporter (and does not grow like InMemorySpanExporter). */
class NullExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}
const requestLine = {
  method: 'POST',
  path: '/v1/messages',
  status: 200,
  durationMs: 812.4,
  model: 'claude-sonnet-4-5-20250929',
  credentialId: 3,
  outcome: 'ok',
  stopReason: 'end_turn',
  inputTokens: 18234,
  outputTokens: 912,
};
/** Realistic shape: dozens of long tokens, a few short keys; one stable array instance. */
const SECRETS = [
  ...Array.from({ length: 40 }, (_, i) => `aoaAAAAAG${'Q'.repeat(800)}${i}`),
  'sk-gateway-client-key-1234',
  'admin-key-5678-abcd',
];

describe('per chunk', () => {
  const metrics = new GatewayMetrics({ collectDefault: false });
  const off = StreamSpan.start();
  bench('recordFrame + recordSseEvent', () => {
    metrics.recordFrame(140);
    metrics.recordSseEvent('content_block_delta');
  });
  bench('StreamSpan.firstFrame + firstByte (tracing off)', () => {
    off.firstFrame();
    off.firstByte();
  });
});

describe('per request', () => {
  const metrics = new GatewayMetrics({ collectDefault: false });
  bench('metrics: http + stream + tokens + upstream call', () => {
    metrics.recordHttpRequest('/v1/messages', 'POST', 200, 0.8);
    const s = metrics.startStream('claude-sonnet-4-5');
    s.firstByte();
    s.end();
    metrics.recordTokens('claude-sonnet-4-5', 18234, 912);
    metrics.recordUpstreamCall('ok', 0.4, 3);
  });
  bench('withChildSpan (tracing off)', async () => {
    await withChildSpan('credential.select', { 'kiro.credential.id': 3 }, () => 3);
  });
});

describe('per request, tracing on', () => {
  // Started in each task's setup (not at collection time), so the groups above really run with
  // tracing off; tinybench calls setup/teardown around each task.
  let handle: TracingHandle | undefined;
  const tracingOn = {
    setup: () => {
      handle ??= initTracing({ exporter: new NullExporter(), batch: true });
    },
    teardown: async () => {
      await handle?.shutdown();
      handle = undefined;
    },
  };
  bench(
    'withChildSpan (tracing on)',
    async () => {
      await withChildSpan('credential.select', { 'kiro.credential.id': 3 }, () => 3);
    },
    tracingOn,
  );
  bench(
    'StreamSpan full life (tracing on)',
    () => {
      const s = StreamSpan.start();
      s.firstFrame();
      s.firstByte();
      s.end('ok');
    },
    tracingOn,
  );
});

describe('per log line', () => {
  const plain = pino({ level: 'info' }, sink).child({ requestId: 'req_0123456789abcdefghijklmn' });
  const redacting = createLogger({ level: 'info', pretty: false, destination: sink }).child({ requestId: 'req_x' });
  const scrubbing = createLogger({ level: 'info', pretty: false, destination: sink, secrets: () => SECRETS }).child({
    requestId: 'req_x',
  });
  bench('pino, no redaction', () => plain.info(requestLine, 'request completed'));
  bench('createLogger, key redaction', () => redacting.info(requestLine, 'request completed'));
  bench('createLogger, key redaction + 42 secrets scrubbed', () => scrubbing.info(requestLine, 'request completed'));
});
