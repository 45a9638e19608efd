/**
 * POST /v1/messages and /cc/v1/messages are served outside Koa (src/anthropic/messages-route.ts);
 * the same paths as absolute-form targets still go through Koa, to the same pipeline. Both must
 * answer alike: status, body, the request id (header, body, log line), CORS, x-kiro-model, errors
 * in Anthropic's shape, and one log line and one http_requests_total count per request, labelled
 * with the route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { API_KEY, eventually, startStack, type Stack } from '../helpers/stack.js';
import { captureLogs, type LogCapture } from '../observability/helpers.js';
import { parseProm } from '../observability/prom-parse.js';

const MESSAGE = { model: 'claude-sonnet-4-6', max_tokens: 32, messages: [{ role: 'user', content: 'hi' }] };
const ORIGIN = 'https://app.example';

let stack: Stack;
let logs: LogCapture;
let metrics: GatewayMetrics;

beforeAll(async () => {
  logs = captureLogs();
  metrics = new GatewayMetrics({ collectDefault: false });
  stack = await startStack({ observability: { logger: createLogger({ level: 'info', pretty: false, destination: logs }), metrics } });
});

afterAll(async () => {
  await stack?.close();
});

/** The request by both ways in: origin-form (the front) and absolute-form (Koa). */
function bothWays(path: string, headers: Record<string, string>, body: unknown): Promise<[RawResponse, RawResponse]> {
  return Promise.all([rawRequest(stack.url, 'POST', path, headers, body), rawRequest(stack.url, 'POST', `${stack.url}${path}`, headers, body)]);
}

async function requestsCounted(route: string, status: string): Promise<number> {
  const text = await metrics.metricsText();
  const series = parseProm(text).samples.filter(
    (s) => s.name === 'kiro_gateway_http_requests_total' && s.labels.route === route && s.labels.method === 'POST' && s.labels.status === status,
  );
  return series.reduce((a, s) => a + s.value, 0);
}

function lineOf(requestId: string): Record<string, unknown> | undefined {
  return logs.json().find((l) => l.requestId === requestId && (l.msg === 'request completed' || l.msg === 'request failed'));
}

describe('the messages routes outside Koa answer as Koa does', () => {
  it('streams with the same head and events on /v1 and /cc/v1', async () => {
    for (const path of ['/v1/messages', '/cc/v1/messages?beta=true']) {
      const before = await requestsCounted(path.split('?')[0]!, '200');
      const [front, koa] = await bothWays(path, { 'x-api-key': API_KEY, origin: ORIGIN }, { ...MESSAGE, stream: true });
      for (const res of [front, koa]) {
        expect(res.status, path).toBe(200);
        expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
        expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
        expect(res.headers.vary).toBe('origin');
        expect(res.headers['x-kiro-model']).toBe('claude-sonnet-4.6');
        expect(res.headers['request-id']).toMatch(/^req_/);
        expect(res.headers['x-request-id']).toBe(res.headers['request-id']);
        expect(res.body).toContain('event: message_start');
        expect(res.body).toContain('event: message_stop');
      }
      expect(Object.keys(front.headers).sort()).toEqual(Object.keys(koa.headers).sort());
      await eventually(async () => (await requestsCounted(path.split('?')[0]!, '200')) === before + 2);
      for (const res of [front, koa]) {
        await eventually(() => lineOf(res.headers['request-id']!) !== undefined);
        expect(lineOf(res.headers['request-id']!)).toMatchObject({ method: 'POST', path: path.split('?')[0], status: 200, stream: true, outcome: 'ok' });
      }
    }
  });

  it('answers a JSON message the same way', async () => {
    const [front, koa] = await bothWays('/v1/messages', { 'x-api-key': API_KEY }, MESSAGE);
    for (const res of [front, koa]) {
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
      expect(res.json).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
    }
  });

  it.each([
    ['no key', {}, MESSAGE, 401, 'authentication_error'],
    ['a wrong key', { 'x-api-key': 'nope' }, MESSAGE, 401, 'authentication_error'],
    ['a body that is not JSON', { 'x-api-key': API_KEY }, '{"model":', 400, 'invalid_request_error'],
    ['an unknown model', { 'x-api-key': API_KEY }, { ...MESSAGE, model: 'gpt-4o' }, 404, 'not_found_error'],
  ] as const)('answers %s with the same Anthropic error', async (_label, headers, body, status, type) => {
    const before = await requestsCounted('/v1/messages', String(status));
    const [front, koa] = await bothWays('/v1/messages', { origin: ORIGIN, ...headers }, body);
    for (const res of [front, koa]) {
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['x-should-retry']).toBe('false');
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.json).toMatchObject({ type: 'error', error: { type }, request_id: res.headers['request-id'] });
      await eventually(() => lineOf(res.headers['request-id']!) !== undefined);
      expect(lineOf(res.headers['request-id']!)).toMatchObject({ status, errorType: type });
    }
    expect(front.json.error.message).toBe(koa.json.error.message);
    await eventually(async () => (await requestsCounted('/v1/messages', String(status))) === before + 2);
  });

  it('leaves other methods on the messages paths to Koa', async () => {
    const res = await rawRequest(stack.url, 'GET', '/v1/messages', { 'x-api-key': API_KEY });
    expect(res.status).toBe(404);
    expect(res.json?.error?.type).toBe('not_found_error');
    const preflight = await rawRequest(stack.url, 'OPTIONS', '/v1/messages', { origin: ORIGIN, 'access-control-request-method': 'POST' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ORIGIN);
  });
});
