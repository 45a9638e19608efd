/**
 * The metrics as the real wiring moves them: requests of every outcome go through the gateway to
 * the simulator, `GET /metrics` is scraped before and after, and every counter and histogram of the
 * request path must have moved by exactly the expected amount (nothing else may move).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEventFrame } from '../../src/kiro/encoder.js';
import { createLogger } from '../../src/observability/logger.js';
import { MAX_UNKNOWN_EVENT_TYPES, OTHER_EVENT_TYPE } from '../../src/kiro/unknown-events.js';
import {
  ADMISSION_PATHS,
  DISABLED_REASONS,
  SHED_REASONS,
  GatewayMetrics,
  HTTP_METHODS,
  MODEL_FAMILIES,
  OUTCOME_CLASSES,
  REFRESH_OUTCOMES,
  SSE_EVENT_TYPES,
} from '../../src/observability/metrics.js';
import { simScript, type Script } from '../../src/simulator/index.js';
import { ADMIN_KEY, API_KEY, eventually, post, refreshTokenFor, startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { credentialId, rawStream, type SseRecord } from '../e2e/sse.js';
import { captureLogs, type LogCapture } from './helpers.js';
import { parseProm, type PromExposition } from './prom-parse.js';

const P = 'kiro_gateway_';
const MODEL = 'claude-sonnet-4-6';
const A = refreshTokenFor('gw-metrics-a');
const B = refreshTokenFor('gw-metrics-b');

/** A reply whose frames are known byte for byte (no derived usage frames). */
const TEXTS = ['Counting ', 'frames ', 'and ', 'bytes.'];
const CONTEXT_USAGE = 1.5;
const METERING = 0.02;
const REPLY: Script = {
  events: [...TEXTS.map((text) => ({ text })), { contextUsage: CONTEXT_USAGE }, { metering: METERING }],
};
/** Wire sizes of REPLY's frames, in order (the simulator encodes with the same encoder). */
const REPLY_FRAME_BYTES = [
  ...TEXTS.map((content) => encodeEventFrame('assistantResponseEvent', { content }).length),
  encodeEventFrame('contextUsageEvent', { contextUsagePercentage: CONTEXT_USAGE }).length,
  encodeEventFrame('meteringEvent', { unit: 'credit', unitPlural: 'credits', usage: METERING }).length,
];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const body = (script: Script = REPLY, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 256,
  messages: [{ role: 'user', content: `Hello ${simScript(script)}` }],
  ...extra,
});

/** The request-path metrics; each must move exactly as a test says (or not at all). */
const CORE = [
  'http_requests_total',
  'upstream_calls_total',
  'upstream_retries_total',
  'credential_failovers_total',
  'time_to_first_byte_seconds_count',
  'stream_duration_seconds_count',
  'input_tokens_total',
  'output_tokens_total',
  'eventstream_frames_total',
  'eventstream_bytes_total',
  'eventstream_crc_errors_total',
  'sse_events_total',
  'client_disconnects_total',
  'token_refreshes_total',
  'refresh_lock_wait_seconds_count',
  'upstream_unknown_events_total',
] as const;
type Core = (typeof CORE)[number];
type Moves = Partial<Record<Core, Record<string, number>>>;

/** Label key of a series: `name=value` pairs sorted by name (histogram `le` left out). */
function key(labels: Record<string, string>): string {
  return Object.keys(labels)
    .filter((l) => l !== 'le')
    .sort()
    .map((l) => `${l}=${labels[l]}`)
    .join(',');
}

/** Series of `name` whose value changed between two scrapes, as key → delta (scrapes of /metrics left out). */
function moved(before: PromExposition, after: PromExposition, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  const old = new Map(before.find(`${P}${name}`).map((s) => [key(s.labels), s.value]));
  for (const s of after.find(`${P}${name}`)) {
    if (s.labels.route === '/metrics') continue;
    const d = s.value - (old.get(key(s.labels)) ?? 0);
    if (d !== 0) out[key(s.labels)] = d;
  }
  return out;
}

const http = (status: number, route = '/v1/messages', method = 'POST') => key({ route, method, status: String(status) });
const sonnet = key({ model: 'sonnet' });
const calls = (outcome: string, credential: number) => key({ outcome, credential: String(credential) });
const outcome = (o: string) => key({ outcome: o });
const events = (records: SseRecord[]) => {
  const out: Record<string, number> = {};
  for (const r of records) out[key({ event: r.event })] = (out[key({ event: r.event })] ?? 0) + 1;
  return out;
};

let stack: Stack | undefined;
let logs: LogCapture;

async function start(opts: StackOptions = {}): Promise<Stack> {
  logs = captureLogs();
  const metrics = new GatewayMetrics({ collectDefault: false });
  const logger = createLogger({ level: 'info', pretty: false, destination: logs });
  stack = await startStack({ credentials: [{ refreshToken: A, authMethod: 'social' }], ...opts, observability: { metrics, logger } });
  return stack;
}

async function scrape(s: Stack): Promise<{ text: string; m: PromExposition }> {
  const res = await fetch(`${s.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  return { text, m: parseProm(text) };
}

/** The request log lines (one per request) of the messages route. */
const requestLines = () => logs.json().filter((l) => l.path === '/v1/messages' && typeof l.status === 'number');

/** Waits until every request is over on the gateway side (log line written, metrics recorded). */
async function settled(s: Stack, requests: number): Promise<void> {
  await eventually(() => s.gateway.lifecycle.inFlight === 0 && requestLines().length === requests, 5_000);
}

/** Asserts every CORE metric moved exactly as `expected` says, and the invariants after any traffic. */
async function expectMoves(s: Stack, before: PromExposition, expected: Moves, skip: Core[] = []): Promise<PromExposition> {
  const { text, m: after } = await scrape(s);
  const actual: Moves = {};
  for (const name of CORE) if (!skip.includes(name)) actual[name] = moved(before, after, name);
  const want: Moves = {};
  for (const name of CORE) if (!skip.includes(name)) want[name] = expected[name] ?? {};
  expect(actual).toEqual(want);
  expect(after.value(`${P}inflight_streams`)).toBe(0);
  expectAllowedLabels(after, s);
  expectNoSecrets(text, s);
  return after;
}

function expectAllowedLabels(m: PromExposition, s: Stack): void {
  const ids = new Set(s.gateway.store.list().map((r) => String(r.credential.id)));
  const allowed: Record<string, Set<string>> = {
    route: new Set(['/v1/messages', '/metrics', 'unmatched', '/api/admin/credentials/:id/refresh']),
    method: new Set([...HTTP_METHODS, 'OTHER']),
    status: new Set(['200', '400', '401', '404', '429', '499', '502', '529']),
    model: new Set(MODEL_FAMILIES),
    outcome: new Set<string>([...OUTCOME_CLASSES, ...REFRESH_OUTCOMES]),
    event: new Set(SSE_EVENT_TYPES),
    reason: new Set<string>([...DISABLED_REASONS, ...SHED_REASONS]),
    path: new Set(ADMISSION_PATHS),
    credential: ids,
    // Requests of this test carry the configured apiKey: its usage is labelled `config`, never the key.
    key: new Set(['config']),
    direction: new Set(['input', 'output']),
    scope: new Set(['shared', 'local']),
  };
  for (const sample of m.samples) {
    if (!sample.name.startsWith(P)) continue;
    for (const [label, value] of Object.entries(sample.labels)) {
      if (label === 'le') continue;
      // Named by Kiro's frame headers: bounded in number (see the unknown-event test) and in characters.
      if (label === 'event_type') {
        expect(value, `${sample.name}{event_type="${value}"}`).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
        continue;
      }
      expect(allowed[label], `${sample.name}: unexpected label ${label}`).toBeDefined();
      expect(allowed[label].has(value), `${sample.name}{${label}="${value}"}`).toBe(true);
    }
  }
}

function expectNoSecrets(text: string, s: Stack): void {
  const secrets = [API_KEY, ADMIN_KEY, A, B];
  for (const r of s.gateway.store.list()) {
    for (const v of [r.credential.accessToken, r.credential.refreshToken]) if (v) secrets.push(v);
  }
  for (const r of s.sim.stats.requests) {
    const auth = r.headers.authorization;
    if (typeof auth === 'string') secrets.push(auth.replace(/^Bearer /, ''));
  }
  for (const secret of secrets) expect(text.includes(secret), `secret in /metrics: ${secret.slice(0, 12)}…`).toBe(false);
}

/** The usage the client saw at the end of a stream. */
function finalUsage(records: SseRecord[]): { input: number; output: number } {
  const delta = records.find((r) => r.event === 'message_delta');
  expect(delta).toBeDefined();
  return { input: delta!.json.usage.input_tokens, output: delta!.json.usage.output_tokens };
}

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('gateway metrics through the real wiring', () => {
  it('ok stream (first request refreshes the token): request, call, TTFB, duration, tokens, frames, SSE events, refresh', async () => {
    const s = await start();
    const id = credentialId(s, A);
    const { m: before } = await scrape(s);

    const res = await rawStream(s, body());
    expect(res.status).toBe(200);
    expect(res.records.at(-1)?.event).toBe('message_stop');
    await settled(s, 1);

    const usage = finalUsage(res.records);
    expect(usage.input).toBeGreaterThan(0);
    expect(usage.output).toBeGreaterThan(0);
    const after = await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('ok', id)]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: usage.input },
      output_tokens_total: { [sonnet]: usage.output },
      eventstream_frames_total: { '': REPLY_FRAME_BYTES.length },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES) },
      sse_events_total: events(res.records),
      token_refreshes_total: { [outcome('ok')]: 1 },
      refresh_lock_wait_seconds_count: { '': 1 },
    });
    expect(after.value(`${P}credentials_enabled`)).toBe(1);
    expect(after.sum(`${P}credentials_disabled`)).toBe(0);
    expect(after.value(`${P}credential_enabled`, { credential: String(id) })).toBe(1);
    expect(after.value(`${P}upstream_call_duration_seconds_count`, { outcome: 'ok' })).toBe(1);
    expect(after.value(`${P}http_request_duration_seconds_count`, { route: '/v1/messages', method: 'POST', status: '200' })).toBe(1);
  });

  it('ok JSON: no SSE events, TTFB and duration once, tokens as the message reports them', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body()); // warm-up: takes the token refresh out of the picture
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const res = await post(`${s.url}/v1/messages`, body());
    expect(res.status).toBe(200);
    await settled(s, 2);

    await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('ok', id)]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: res.json.usage.input_tokens },
      output_tokens_total: { [sonnet]: res.json.usage.output_tokens },
      eventstream_frames_total: { '': REPLY_FRAME_BYTES.length },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES) },
    });
  });

  it('429 then ok on the only credential: one retry, no failover', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    s.sim.setAccount(A, { mode: 'rate-limit-429', times: 1 });
    const { m: before } = await scrape(s);

    const res = await rawStream(s, body());
    expect(res.records.at(-1)?.event).toBe('message_stop');
    await settled(s, 2);

    const usage = finalUsage(res.records);
    await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('rate_limited', id)]: 1, [calls('ok', id)]: 1 },
      upstream_retries_total: { [outcome('rate_limited')]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: usage.input },
      output_tokens_total: { [sonnet]: usage.output },
      eventstream_frames_total: { '': REPLY_FRAME_BYTES.length },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES) },
      sse_events_total: events(res.records),
    });
  });

  it('quota 402 fails over to the second credential; the gauges show it disabled for QuotaExceeded', async () => {
    const s = await start({
      credentials: [
        { refreshToken: A, authMethod: 'social', priority: 0 },
        { refreshToken: B, authMethod: 'social', priority: 1 },
      ],
    });
    const [a, b] = [credentialId(s, A), credentialId(s, B)];
    s.sim.setAccount(A, { mode: 'quota-402' });
    const { m: before } = await scrape(s);
    expect(before.value(`${P}credentials_enabled`)).toBe(2);

    const res = await rawStream(s, body());
    expect(res.records.at(-1)?.event).toBe('message_stop');
    await settled(s, 1);

    const usage = finalUsage(res.records);
    const after = await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('quota', a)]: 1, [calls('ok', b)]: 1 },
      credential_failovers_total: { [outcome('quota')]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: usage.input },
      output_tokens_total: { [sonnet]: usage.output },
      eventstream_frames_total: { '': REPLY_FRAME_BYTES.length },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES) },
      sse_events_total: events(res.records),
      token_refreshes_total: { [outcome('ok')]: 2 },
      refresh_lock_wait_seconds_count: { '': 2 },
    });
    expect(after.value(`${P}credentials_enabled`)).toBe(1);
    expect(after.value(`${P}credentials_disabled`, { reason: 'QuotaExceeded' })).toBe(1);
    expect(after.sum(`${P}credentials_disabled`)).toBe(1);
    expect(after.value(`${P}credential_enabled`, { credential: String(a) })).toBe(0);
    expect(after.value(`${P}credential_enabled`, { credential: String(b) })).toBe(1);
  });

  it('a dead refresh token (invalid_grant) fails over to the next credential and is disabled', async () => {
    const s = await start({
      credentials: [
        { refreshToken: A, authMethod: 'social', priority: 0 },
        { refreshToken: B, authMethod: 'social', priority: 1 },
      ],
    });
    const b = credentialId(s, B);
    s.sim.setAccount(A, { mode: 'refresh-invalid-grant' });
    const { m: before } = await scrape(s);

    const res = await post(`${s.url}/v1/messages`, body());
    expect(res.status).toBe(200);
    await settled(s, 1);

    const after = await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('ok', b)]: 1 },
      credential_failovers_total: { [outcome('auth')]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: res.json.usage.input_tokens },
      output_tokens_total: { [sonnet]: res.json.usage.output_tokens },
      eventstream_frames_total: { '': REPLY_FRAME_BYTES.length },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES) },
      token_refreshes_total: { [outcome('invalid_grant')]: 1, [outcome('ok')]: 1 },
      // Only refreshes that got to an answer under the lock report their wait (the pool's failure event has none).
      refresh_lock_wait_seconds_count: { '': 1 },
    });
    expect(after.value(`${P}credentials_disabled`, { reason: 'InvalidRefreshToken' })).toBe(1);
    expect(after.value(`${P}credentials_enabled`)).toBe(1);
  });

  it('an expired access token: 403, forced refresh, retry on the same credential', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    s.sim.expireAccessTokens(A);
    const { m: before } = await scrape(s);

    const res = await post(`${s.url}/v1/messages`, body());
    expect(res.status).toBe(200);
    await settled(s, 2);

    await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('auth', id)]: 1, [calls('ok', id)]: 1 },
      upstream_retries_total: { [outcome('auth')]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: res.json.usage.input_tokens },
      output_tokens_total: { [sonnet]: res.json.usage.output_tokens },
      eventstream_frames_total: { '': REPLY_FRAME_BYTES.length },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES) },
      token_refreshes_total: { [outcome('ok')]: 1 },
      refresh_lock_wait_seconds_count: { '': 1 },
    });
  });

  it('5xx on every attempt: 502, three calls, two retries, no TTFB', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    s.sim.setAccount(A, { mode: 'server-error-500' });
    const { m: before } = await scrape(s);

    const res = await post(`${s.url}/v1/messages`, body(REPLY, { stream: true }));
    expect(res.status).toBe(502);
    await settled(s, 2);

    await expectMoves(s, before, {
      http_requests_total: { [http(502)]: 1 },
      upstream_calls_total: { [calls('server_error', id)]: 3 },
      upstream_retries_total: { [outcome('server_error')]: 2 },
      stream_duration_seconds_count: { [sonnet]: 1 },
    });
    expect(requestLines().at(-1)).toMatchObject({ status: 502, outcome: 'server_error' });
  });

  it('bad requests: rejected by the gateway (no upstream call) and by the upstream (400, no retry)', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const invalid = await post(`${s.url}/v1/messages`, { model: MODEL, messages: [] });
    expect(invalid.status).toBe(400);
    const rejected = await post(
      `${s.url}/v1/messages`,
      body({ status: 400, body: { message: 'Improperly formed request.', reason: null } }),
    );
    expect(rejected.status).toBe(400);
    await settled(s, 3);

    await expectMoves(s, before, {
      http_requests_total: { [http(400)]: 2 },
      upstream_calls_total: { [calls('bad_request', id)]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
    });
    expect(requestLines().at(-1)).toMatchObject({ status: 400, outcome: 'bad_request' });
  });

  it('client disconnect mid-stream: counted once, in-flight back to 0, no tokens, no message_stop', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const long: Script = { events: Array.from({ length: 100 }, (_, i) => ({ text: `word${i} ` })), chunkDelayMs: 30 };
    const abort = new AbortController();
    const res = await fetch(`${s.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify(body(long, { stream: true })),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('content_block_delta')) {
      const { value } = await reader.read();
      text += Buffer.from(value!).toString();
    }
    abort.abort();
    await eventually(() => s.sim.stats.streamsAborted === 1);
    await settled(s, 2);

    const after = await expectMoves(
      s,
      before,
      {
        http_requests_total: { [http(200)]: 1 },
        upstream_calls_total: { [calls('ok', id)]: 1 },
        time_to_first_byte_seconds_count: { [sonnet]: 1 },
        stream_duration_seconds_count: { [sonnet]: 1 },
        client_disconnects_total: { '': 1 },
      },
      ['eventstream_frames_total', 'eventstream_bytes_total', 'sse_events_total'],
    );
    // How far the stream got is a race; that it got somewhere and never finished is not.
    const frames = moved(before, after, 'eventstream_frames_total')[''];
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThan(100);
    const sse = moved(before, after, 'sse_events_total');
    expect(sse[key({ event: 'message_start' })]).toBe(1);
    expect(sse[key({ event: 'content_block_delta' })]).toBeGreaterThan(0);
    expect(sse[key({ event: 'message_stop' })]).toBeUndefined();
    expect(sse[key({ event: 'error' })]).toBeUndefined();
    expect(requestLines().at(-1)).toMatchObject({ clientDisconnected: true, outcome: 'canceled' });
  });

  it('stream cut mid-frame: the frames before the cut, an SSE error event, tokens as far as they went', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const res = await rawStream(s, body({ ...REPLY, fault: { kind: 'cut', afterFrames: 2, mode: 'end' } }));
    expect(res.status).toBe(200);
    expect(res.records.at(-1)?.event).toBe('error');
    await settled(s, 2);

    const line = requestLines().at(-1)!;
    expect(line).toMatchObject({ status: 200, outcome: 'truncated' });
    const messageStart = res.records.find((r) => r.event === 'message_start')!;
    expect(line.inputTokens).toBe(messageStart.json.message.usage.input_tokens);
    expect(line.outputTokens).toBeGreaterThan(0);
    await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 1 },
      upstream_calls_total: { [calls('ok', id)]: 1 },
      time_to_first_byte_seconds_count: { [sonnet]: 1 },
      stream_duration_seconds_count: { [sonnet]: 1 },
      input_tokens_total: { [sonnet]: line.inputTokens as number },
      output_tokens_total: { [sonnet]: line.outputTokens as number },
      eventstream_frames_total: { '': 2 },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES.slice(0, 2)) },
      sse_events_total: events(res.records),
    });
  });

  it('a frame with a bad CRC is counted and fails the stream after the frames before it (never skipped)', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const prelude = await rawStream(s, body({ ...REPLY, fault: { kind: 'bad-prelude-crc', afterFrames: 1 } }));
    const message = await rawStream(s, body({ ...REPLY, fault: { kind: 'bad-message-crc', afterFrames: 3 } }));
    for (const res of [prelude, message]) {
      expect(res.records.at(-1)?.event).toBe('error');
      expect(res.records.some((r) => r.event === 'message_stop')).toBe(false);
    }
    await settled(s, 3);

    const records = [...prelude.records, ...message.records];
    const lines = requestLines().slice(-2);
    for (const line of lines) expect(line).toMatchObject({ status: 200, outcome: 'truncated' });
    await expectMoves(s, before, {
      http_requests_total: { [http(200)]: 2 },
      upstream_calls_total: { [calls('ok', id)]: 2 },
      time_to_first_byte_seconds_count: { [sonnet]: 2 },
      stream_duration_seconds_count: { [sonnet]: 2 },
      input_tokens_total: { [sonnet]: (lines[0]!.inputTokens as number) + (lines[1]!.inputTokens as number) },
      output_tokens_total: { [sonnet]: (lines[0]!.outputTokens as number) + (lines[1]!.outputTokens as number) },
      eventstream_frames_total: { '': 1 + 3 },
      eventstream_bytes_total: { '': sum(REPLY_FRAME_BYTES.slice(0, 1)) + sum(REPLY_FRAME_BYTES.slice(0, 3)) },
      eventstream_crc_errors_total: { '': 2 },
      sse_events_total: events(records),
    });
  });

  it('admin refresh of a credential counts a token refresh and its lock wait', async () => {
    const s = await start();
    const id = credentialId(s, A);
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const res = await post(`${s.url}/api/admin/credentials/${id}/refresh`, {}, { 'x-api-key': ADMIN_KEY });
    expect(res.status).toBe(200);

    await expectMoves(s, before, {
      http_requests_total: { [http(200, '/api/admin/credentials/:id/refresh')]: 1 },
      token_refreshes_total: { [outcome('ok')]: 1 },
      refresh_lock_wait_seconds_count: { '': 1 },
    });
  });

  it('unknown upstream event types: dropped, counted by type (bounded), logged once per type without their payload', async () => {
    const s = await start();
    await post(`${s.url}/v1/messages`, body());
    await settled(s, 1);
    const { m: before } = await scrape(s);

    const PRIVATE = 'private words the user typed';
    const unknown = (type: string) => ({ event: { type, payload: { text: PRIVATE } } });
    const script: Script = { events: [{ text: 'Visible.' }, unknown('citationEvent'), unknown('citationEvent'), { contextUsage: 1 }] };
    const first = await post(`${s.url}/v1/messages`, body(script));
    expect(first.status).toBe(200);
    expect(first.json.content).toEqual([{ type: 'text', text: 'Visible.' }]);
    const second = await post(`${s.url}/v1/messages`, body(script));
    expect(second.status).toBe(200);
    // More distinct types than the cap: the surplus shares one series.
    const many: Script = { events: [{ text: 'Many.' }, ...Array.from({ length: MAX_UNKNOWN_EVENT_TYPES + 3 }, (_, i) => unknown(`newEvent${i}`))] };
    expect((await post(`${s.url}/v1/messages`, body(many))).status).toBe(200);
    await settled(s, 4);

    const { text, m: after } = await scrape(s);
    const unknownMoves = moved(before, after, 'upstream_unknown_events_total');
    expect(unknownMoves[key({ event_type: 'citationEvent' })]).toBe(4);
    // citationEvent took one of the named slots; the other types fill the rest, then "other".
    const named = Array.from({ length: MAX_UNKNOWN_EVENT_TYPES - 1 }, (_, i) => key({ event_type: `newEvent${i}` }));
    for (const k of named) expect(unknownMoves[k]).toBe(1);
    expect(unknownMoves[key({ event_type: OTHER_EVENT_TYPE })]).toBe(4);
    expect(Object.keys(unknownMoves)).toHaveLength(MAX_UNKNOWN_EVENT_TYPES + 1);
    expect(text).not.toContain(PRIVATE);

    const warnings = logs.json().filter((l) => typeof l.msg === 'string' && l.msg.includes('event type the gateway does not know'));
    expect(warnings.map((l) => l.eventType)).toEqual(['citationEvent', ...named.map((_, i) => `newEvent${i}`), OTHER_EVENT_TYPE]);
    expect(logs.text()).not.toContain(PRIVATE);
  });
});
