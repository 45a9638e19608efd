import Router from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { CredentialRecord } from '../../src/credentials/types.js';
import { EMPTY_STATS } from '../../src/credentials/types.js';
import {
  DEFAULT_REDIS_COMMANDS,
  ADMISSION_PATHS,
  DISABLED_REASONS,
  SHED_REASONS,
  GatewayMetrics,
  HTTP_METHODS,
  MODEL_FAMILIES,
  OUTCOME_CLASSES,
  REFRESH_OUTCOMES,
  SSE_EVENT_TYPES,
  modelFamily,
} from '../../src/observability/metrics.js';
import { createMetricsMiddleware } from '../../src/observability/metrics-middleware.js';
import { parseProm, type PromExposition } from './prom-parse.js';
import { serve, sleep, type Served } from './helpers.js';
import { LIMIT_NAMES } from '../../src/keys/types.js';

const P = 'kiro_gateway_';

async function scrape(metrics: GatewayMetrics): Promise<PromExposition> {
  return parseProm(await metrics.metricsText());
}

function record(id: number, over: Partial<CredentialRecord['credential']> = {}, stats: Partial<CredentialRecord['stats']> = {}): CredentialRecord {
  return {
    credential: { id, authMethod: 'social', priority: 0, machineId: '0'.repeat(64), disabled: false, ...over },
    stats: { ...EMPTY_STATS, ...stats },
  };
}

describe('modelFamily', () => {
  it('maps Anthropic and Kiro model ids to a bounded family', () => {
    expect(modelFamily('claude-sonnet-4-5-20250929')).toBe('sonnet');
    expect(modelFamily('CLAUDE_SONNET_4_5_20250929_V1_0')).toBe('sonnet');
    expect(modelFamily('claude-opus-4-1')).toBe('opus');
    expect(modelFamily('claude-3-5-haiku-latest')).toBe('haiku');
    expect(modelFamily('gpt-4o')).toBe('other');
    expect(modelFamily('')).toBe('other');
    for (const f of MODEL_FAMILIES) expect(modelFamily(f)).toBe(f);
  });
});

describe('GatewayMetrics', () => {
  it('uses its own registry by default, so several instances coexist', async () => {
    const a = new GatewayMetrics({ collectDefault: false });
    const b = new GatewayMetrics({ collectDefault: false });
    expect(a.registry).not.toBe(b.registry);
    const shared = new Registry();
    new GatewayMetrics({ registry: shared, collectDefault: false });
    expect(() => new GatewayMetrics({ registry: shared, collectDefault: false })).toThrow(/already been registered/);
  });

  it('exports default process metrics unless told not to', async () => {
    expect((await scrape(new GatewayMetrics())).types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect((await scrape(new GatewayMetrics({ collectDefault: false }))).types.has('process_cpu_user_seconds_total')).toBe(false);
  });

  it('names every gateway metric kiro_gateway_<thing>_<unit>', async () => {
    const m = await scrape(new GatewayMetrics({ collectDefault: false }));
    const gauges = new Set([`${P}inflight_streams`, `${P}credentials_enabled`, `${P}credentials_disabled`, `${P}credentials_near_expiry`, `${P}credentials_cooling_down`, `${P}credential_enabled`, `${P}ready`, `${P}store_degraded`, `${P}admission_active`, `${P}admission_queued`, `${P}admission_limit`, `${P}client_key_limits_local`]);
    for (const [name, type] of m.types) {
      expect(name.startsWith(P), name).toBe(true);
      if (type === 'counter') expect(name, name).toMatch(/_total$/);
      if (type === 'histogram') expect(name, name).toMatch(/_seconds$/);
      if (type === 'gauge') expect(gauges.has(name), name).toBe(true);
    }
    expect(m.types.get(`${P}inflight_streams`)).toBe('gauge');
    expect(m.types.size).toBe(44);
  });

  it('labels client key series by key id, at most 50 of them with the rest as other', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    for (let i = 0; i < 60; i++) {
      metrics.requestEnded(`key_${String(i).padStart(16, '0')}`, { requests: 1, errors: 0, inputTokens: 10, outputTokens: 5, credits: 0.5 });
    }
    metrics.rateLimited('key_0000000000000000', ['requestsPerMinute']);
    metrics.setKeyLimitsLocalSource(() => true);
    const m = await scrape(metrics);
    expect(m.find(`${P}client_key_requests_total`)).toHaveLength(50);
    expect(m.value(`${P}client_key_requests_total`, { key: 'other' })).toBe(11);
    expect(m.value(`${P}client_key_tokens_total`, { key: 'key_0000000000000001', direction: 'output' })).toBe(5);
    expect(m.value(`${P}client_key_rate_limited_total`, { key: 'key_0000000000000000', limit: 'requestsPerMinute' })).toBe(1);
    expect(m.value(`${P}client_key_limits_local`)).toBe(1);
  });

  it('honours a custom prefix', async () => {
    const m = await scrape(new GatewayMetrics({ collectDefault: false, prefix: 'test_' }));
    expect(m.types.has('test_http_requests_total')).toBe(true);
  });

  it('counts unknown upstream event types under at most 16 names plus other', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    for (let i = 0; i < 20; i++) metrics.recordUnknownEvent(`type${i}`);
    metrics.recordUnknownEvent('type0');
    const m = await scrape(metrics);
    const series = m.find(`${P}upstream_unknown_events_total`);
    expect(series).toHaveLength(17);
    expect(m.value(`${P}upstream_unknown_events_total`, { event_type: 'type0' })).toBe(2);
    expect(m.value(`${P}upstream_unknown_events_total`, { event_type: 'other' })).toBe(4);
  });

  it('counts HTTP requests and durations with normalised labels', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    metrics.recordHttpRequest('/v1/messages', 'POST', 200, 0.2);
    metrics.recordHttpRequest('/v1/messages', 'POST', 200, 0.4);
    metrics.recordHttpRequest('/v1/messages', 'POST', 529, 0.01);
    metrics.recordHttpRequest('unmatched', 'BREW', 999, 0.001);
    const m = await scrape(metrics);
    expect(m.value(`${P}http_requests_total`, { route: '/v1/messages', method: 'POST', status: '200' })).toBe(2);
    expect(m.value(`${P}http_requests_total`, { route: '/v1/messages', method: 'POST', status: '529' })).toBe(1);
    expect(m.value(`${P}http_requests_total`, { route: 'unmatched', method: 'OTHER', status: 'other' })).toBe(1);
    expect(m.value(`${P}http_request_duration_seconds_count`, { route: '/v1/messages', status: '200' })).toBe(2);
    expect(m.value(`${P}http_request_duration_seconds_sum`, { route: '/v1/messages', status: '200' })).toBeCloseTo(0.6);
    expect(m.value(`${P}http_request_duration_seconds_bucket`, { route: '/v1/messages', status: '200', le: '0.25' })).toBe(1);
    expect(m.value(`${P}http_request_duration_seconds_bucket`, { route: '/v1/messages', status: '200', le: '0.5' })).toBe(2);
  });

  it('tracks in-flight streams, time to first byte and duration per model family', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    const t0 = performance.now() - 1500; // started 1.5 s ago
    const a = metrics.startStream('claude-sonnet-4-5-20250929', t0);
    const b = metrics.startStream('claude-opus-4-1');
    expect((await scrape(metrics)).value(`${P}inflight_streams`)).toBe(2);
    a.firstByte();
    a.firstByte();
    a.end();
    a.end();
    expect(metrics.inflightStreams).toBe(1);
    let m = await scrape(metrics);
    expect(m.value(`${P}inflight_streams`)).toBe(1);
    expect(m.value(`${P}time_to_first_byte_seconds_count`, { model: 'sonnet' })).toBe(1);
    expect(m.value(`${P}time_to_first_byte_seconds_sum`, { model: 'sonnet' })).toBeGreaterThanOrEqual(1.5);
    expect(m.value(`${P}time_to_first_byte_seconds_bucket`, { model: 'sonnet', le: '1' })).toBe(0);
    expect(m.value(`${P}time_to_first_byte_seconds_bucket`, { model: 'sonnet', le: '2' })).toBe(1);
    expect(m.value(`${P}stream_duration_seconds_count`, { model: 'sonnet' })).toBe(1);
    expect(m.value(`${P}stream_duration_seconds_count`, { model: 'opus' })).toBe(0);
    b.end();
    m = await scrape(metrics);
    expect(m.value(`${P}inflight_streams`)).toBe(0);
    expect(m.value(`${P}stream_duration_seconds_count`, { model: 'opus' })).toBe(1);
    expect(m.value(`${P}time_to_first_byte_seconds_count`, { model: 'opus' })).toBe(0);
  });

  it('adds tokens by model family', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    metrics.recordTokens('claude-sonnet-4-5', 100, 20);
    metrics.recordTokens('CLAUDE_SONNET_4_5_20250929_V1_0', 1, 2);
    metrics.recordTokens('mystery-model', 5, 0);
    const m = await scrape(metrics);
    expect(m.value(`${P}input_tokens_total`, { model: 'sonnet' })).toBe(101);
    expect(m.value(`${P}output_tokens_total`, { model: 'sonnet' })).toBe(22);
    expect(m.value(`${P}input_tokens_total`, { model: 'other' })).toBe(5);
    expect(m.value(`${P}output_tokens_total`, { model: 'haiku' })).toBe(0);
  });

  it('counts upstream calls by outcome and credential, with latency, retries and failovers', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    metrics.recordUpstreamCall('ok', 0.3, 1);
    metrics.recordUpstreamCall('ok', 0.7, 1);
    metrics.recordUpstreamCall('quota', 0.1, 2);
    metrics.recordUpstreamCall('rate_limited', 0.05, 2);
    metrics.recordUpstreamCall('ok', 0.1, -1);
    metrics.recordUpstreamCall('mystery' as never, 0.1, 3);
    metrics.recordRetry('rate_limited');
    metrics.recordRetry('network');
    metrics.recordRetry('network');
    metrics.recordFailover('quota');
    const m = await scrape(metrics);
    expect(m.value(`${P}upstream_calls_total`, { outcome: 'ok', credential: '1' })).toBe(2);
    expect(m.value(`${P}upstream_calls_total`, { outcome: 'quota', credential: '2' })).toBe(1);
    expect(m.value(`${P}upstream_calls_total`, { outcome: 'ok', credential: 'invalid' })).toBe(1);
    expect(m.value(`${P}upstream_calls_total`, { outcome: 'server_error', credential: '3' })).toBe(1);
    expect(m.value(`${P}upstream_call_duration_seconds_count`, { outcome: 'ok' })).toBe(3);
    expect(m.value(`${P}upstream_call_duration_seconds_sum`, { outcome: 'ok' })).toBeCloseTo(1.1);
    expect(m.value(`${P}upstream_retries_total`, { outcome: 'network' })).toBe(2);
    expect(m.value(`${P}upstream_retries_total`, { outcome: 'rate_limited' })).toBe(1);
    expect(m.value(`${P}credential_failovers_total`, { outcome: 'quota' })).toBe(1);
    expect(m.value(`${P}credential_failovers_total`, { outcome: 'auth' })).toBe(0);
  });

  it('moves hot-path counters (frames, bytes, CRC errors, SSE events) at scrape time, exactly once', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    for (let i = 0; i < 3; i++) metrics.recordFrame(100);
    metrics.recordCrcError();
    metrics.recordSseEvent('message_start');
    metrics.recordSseEvent('content_block_delta');
    metrics.recordSseEvent('content_block_delta');
    metrics.recordSseEvent('made_up_event');
    let m = await scrape(metrics);
    expect(m.value(`${P}eventstream_frames_total`)).toBe(3);
    expect(m.value(`${P}eventstream_bytes_total`)).toBe(300);
    expect(m.value(`${P}eventstream_crc_errors_total`)).toBe(1);
    expect(m.value(`${P}sse_events_total`, { event: 'content_block_delta' })).toBe(2);
    expect(m.value(`${P}sse_events_total`, { event: 'other' })).toBe(1);
    expect(m.value(`${P}sse_events_total`, { event: 'ping' })).toBe(0);
    // a second scrape does not count them again; later increments add up
    m = await scrape(metrics);
    expect(m.value(`${P}eventstream_frames_total`)).toBe(3);
    metrics.recordFrame(50);
    metrics.recordSseEvent('content_block_delta');
    m = await scrape(metrics);
    expect(m.value(`${P}eventstream_frames_total`)).toBe(4);
    expect(m.value(`${P}eventstream_bytes_total`)).toBe(350);
    expect(m.value(`${P}sse_events_total`, { event: 'content_block_delta' })).toBe(3);
  });

  it('counts refreshes, lock waits and contention', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    metrics.recordRefresh('ok');
    metrics.recordRefresh('skipped');
    metrics.recordRefresh('invalid_grant');
    metrics.observeRefreshLockWait(0.002, false);
    metrics.observeRefreshLockWait(0.3, true);
    const m = await scrape(metrics);
    expect(m.value(`${P}token_refreshes_total`, { outcome: 'ok' })).toBe(1);
    expect(m.value(`${P}token_refreshes_total`, { outcome: 'skipped' })).toBe(1);
    expect(m.value(`${P}token_refreshes_total`, { outcome: 'network' })).toBe(0);
    expect(m.value(`${P}refresh_lock_wait_seconds_count`)).toBe(2);
    expect(m.value(`${P}refresh_lock_wait_seconds_bucket`, { le: '0.005' })).toBe(1);
    expect(m.value(`${P}refresh_lock_contention_total`)).toBe(1);
  });

  it('labels Redis commands from a bounded set', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false, redisCommands: ['acquireLease'] });
    metrics.observeRedisCommand('GET', 0.001);
    metrics.observeRedisCommand('evalsha', 0.002);
    metrics.observeRedisCommand('evalsha', 0.5, true);
    metrics.observeRedisCommand('acquireLease', 0.003);
    metrics.observeRedisCommand('user:1234:whatever', 0.001, true);
    const m = await scrape(metrics);
    expect(m.value(`${P}redis_command_duration_seconds_count`, { command: 'get' })).toBe(1);
    expect(m.value(`${P}redis_command_duration_seconds_count`, { command: 'evalsha' })).toBe(2);
    expect(m.value(`${P}redis_command_duration_seconds_count`, { command: 'acquirelease' })).toBe(1);
    expect(m.value(`${P}redis_errors_total`, { command: 'evalsha' })).toBe(1);
    expect(m.value(`${P}redis_errors_total`, { command: 'other' })).toBe(1);
    expect(m.labelValues(`${P}redis_command_duration_seconds`, 'command')).toEqual(new Set(['get', 'evalsha', 'acquirelease', 'other']));
  });

  it('computes credential gauges from the source at scrape time', async () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const metrics = new GatewayMetrics({ collectDefault: false, now: () => now });
    const inMinutes = (m: number) => new Date(now + m * 60_000).toISOString();
    let records: CredentialRecord[] = [
      record(1, { expiresAt: inMinutes(60) }),
      record(2, { expiresAt: inMinutes(5) }),
      record(3, { expiresAt: inMinutes(-1) }, { cooldownUntil: now + 10_000 }),
      record(4, { authMethod: 'api_key' }),
      record(5, { disabled: true, disabledReason: 'QuotaExceeded', expiresAt: inMinutes(1) }),
      record(6, { disabled: true, disabledReason: 'QuotaExceeded' }),
      record(7, { disabled: true }),
      record(8, { disabled: true, disabledReason: 'SomethingNew' as never }),
    ];
    metrics.setCredentialSource(() => records);
    let m = await scrape(metrics);
    expect(m.value(`${P}credentials_enabled`)).toBe(4);
    expect(m.value(`${P}credentials_near_expiry`)).toBe(2);
    expect(m.value(`${P}credentials_cooling_down`)).toBe(1);
    expect(m.value(`${P}credentials_disabled`, { reason: 'QuotaExceeded' })).toBe(2);
    expect(m.value(`${P}credentials_disabled`, { reason: 'Manual' })).toBe(1);
    expect(m.value(`${P}credentials_disabled`, { reason: 'Other' })).toBe(1);
    expect(m.value(`${P}credentials_disabled`, { reason: 'TooManyFailures' })).toBe(0);
    expect(m.value(`${P}credential_enabled`, { credential: '1' })).toBe(1);
    expect(m.value(`${P}credential_enabled`, { credential: '5' })).toBe(0);

    records = records.filter((r) => r.credential.id !== 1);
    m = await scrape(metrics);
    expect(m.find(`${P}credential_enabled`, { credential: '1' })).toHaveLength(0);
    expect(m.value(`${P}credentials_enabled`)).toBe(3);
  });

  it('reports zero credentials before a source is set', async () => {
    const m = await scrape(new GatewayMetrics({ collectDefault: false }));
    expect(m.value(`${P}credentials_enabled`)).toBe(0);
  });
});

describe('createMetricsMiddleware', () => {
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('records route templates (never raw URLs), streamed durations and client disconnects', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    const app = new Koa();
    app.use(createMetricsMiddleware(metrics));
    const router = new Router();
    router.get('/items/:id', (ctx) => void (ctx.body = { id: ctx.params.id }));
    router.post('/v1/messages', async (ctx) => {
      ctx.respond = false;
      ctx.res.writeHead(200, { 'content-type': 'text/event-stream' });
      ctx.res.write('event: ping\ndata: {}\n\n');
      await sleep(150);
      ctx.res.end('event: message_stop\ndata: {}\n\n');
    });
    router.post('/hang', async (ctx) => {
      ctx.respond = false;
      ctx.res.writeHead(200, { 'content-type': 'text/event-stream' });
      ctx.res.write('event: ping\ndata: {}\n\n');
      await new Promise((resolve) => ctx.res.once('close', resolve));
    });
    app.use(router.routes());
    served = await serve(app);
    const url = served.url;

    for (const id of ['1', '2', 'secret-looking-id-abc']) await (await fetch(`${url}/items/${id}?token=zzz`)).text();
    await (await fetch(`${url}/wp-admin/install.php`)).text();
    await (await fetch(`${url}/v1/messages`, { method: 'POST' })).text();
    const ac = new AbortController();
    const res = await fetch(`${url}/hang`, { method: 'POST', signal: ac.signal });
    await res.body!.getReader().read();
    ac.abort();

    const exposition = await (async () => {
      for (let i = 0; i < 200; i++) {
        const e = await scrape(metrics);
        if (e.sum(`${P}http_requests_total`) === 6) return e;
        await sleep(10);
      }
      throw new Error('requests were not all recorded');
    })();

    expect(exposition.value(`${P}http_requests_total`, { route: '/items/:id', method: 'GET', status: '200' })).toBe(3);
    expect(exposition.value(`${P}http_requests_total`, { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(exposition.value(`${P}http_requests_total`, { route: '/v1/messages', method: 'POST', status: '200' })).toBe(1);
    expect(exposition.value(`${P}http_requests_total`, { route: '/hang', method: 'POST', status: '200' })).toBe(1);
    expect(exposition.value(`${P}http_request_duration_seconds_sum`, { route: '/v1/messages' })).toBeGreaterThanOrEqual(0.15);
    expect(exposition.value(`${P}client_disconnects_total`)).toBe(1);
    const text = await metrics.metricsText();
    expect(text).not.toContain('secret-looking');
    expect(text).not.toContain('wp-admin');
    expect(text).not.toContain('zzz');
  });
});

describe('label values', () => {
  it('stay inside the allowed sets whatever the callers pass', async () => {
    const metrics = new GatewayMetrics({ collectDefault: false });
    metrics.setCredentialSource(() => [record(1), record(2, { disabled: true, disabledReason: 'Weird' as never })]);
    metrics.recordHttpRequest('/v1/messages', 'PROPFIND', 204, 0.1);
    metrics.startStream('claude-sonnet-4-5-20250929-my-custom-suffix').end();
    metrics.recordTokens('totally/unbounded:model?name', 1, 1);
    metrics.recordUpstreamCall('ok', 0.1, 1e9);
    metrics.recordSseEvent('x'.repeat(100));
    metrics.recordRefresh('???' as never);
    metrics.observeRedisCommand('KEYS *', 0.1, true);
    metrics.limitChecked(0.001, 'shared');
    metrics.rateLimited('key_0123456789abcdef', ['requestsPerMinute', 'nonsense' as never]);
    metrics.requestEnded('key_0123456789abcdef', { requests: 1, errors: 0, inputTokens: 1, outputTokens: 1, credits: 0.1 });
    const m = await scrape(metrics);

    const allowed: Record<string, Set<string>> = {
      route: new Set(['/v1/messages', 'unmatched']),
      method: new Set([...HTTP_METHODS, 'OTHER']),
      status: new Set(['200', '204', '404', '499', '500', '502', '529', 'other']),
      model: new Set(MODEL_FAMILIES),
      outcome: new Set<string>([...OUTCOME_CLASSES, ...REFRESH_OUTCOMES]),
      event: new Set(SSE_EVENT_TYPES),
      reason: new Set<string>([...DISABLED_REASONS, ...SHED_REASONS]),
      path: new Set(ADMISSION_PATHS),
      command: new Set([...DEFAULT_REDIS_COMMANDS, 'other']),
      scope: new Set(['shared', 'local']),
      key: new Set(['key_0123456789abcdef']),
      limit: new Set<string>([...LIMIT_NAMES, 'other']),
      direction: new Set(['input', 'output']),
    };
    for (const s of m.samples) {
      for (const [label, value] of Object.entries(s.labels)) {
        if (label === 'le') continue;
        if (label === 'credential') {
          expect(value, `${s.name} credential`).toMatch(/^(\d{1,5}|invalid)$/);
          continue;
        }
        expect(allowed[label], `${s.name}: unexpected label ${label}`).toBeDefined();
        expect(allowed[label].has(value), `${s.name}{${label}="${value}"}`).toBe(true);
      }
    }
  });
});
