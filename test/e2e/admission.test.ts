/**
 * Admission control through HTTP: with every upstream slot taken, a request waits in the short
 * queue and is served when a slot frees, or is shed at once (queue full) or after the queue timeout
 * with 529 overloaded_error and retry-after — never left without an answer. Visible in /readyz
 * (saturated, still ready: see README) and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { eventually, post, startStack, type Stack } from '../helpers/stack.js';
import { parseProm } from '../observability/prom-parse.js';

const MODEL = 'claude-sonnet-4-6';
/** Long enough for a 300 ms answer to finish on a loaded machine, short enough to wait out once. */
const QUEUE_TIMEOUT_MS = 4_000;
const IDLE_TIMEOUT_MS = QUEUE_TIMEOUT_MS * 2;

/** A request whose upstream answer takes about `ms` (four text frames). */
const slowRequest = (ms: number) => ({
  model: MODEL,
  max_tokens: 32,
  messages: [{ role: 'user' as const, content: `Hi ${simScript({ events: [{ text: 'a' }, { text: 'b' }, { text: 'c' }, { text: 'd' }], chunkDelayMs: ms / 4 })}` }],
});
/** A request that holds its slot until the upstream idle timeout ends it (502). */
const holdingRequest = {
  model: MODEL,
  max_tokens: 32,
  messages: [{ role: 'user' as const, content: `Hi ${simScript({ events: [{ text: 'a' }], usage: false, fault: { kind: 'stall', afterFrames: 1 } })}` }],
};
const quickRequest = { model: MODEL, max_tokens: 32, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('admission control: a bounded queue, then 529 with retry-after', () => {
  let stack: Stack;
  const metrics = new GatewayMetrics({ collectDefault: false });
  beforeAll(async () => {
    stack = await startStack({
      env: {
        KIRO_ADMISSION_MAX_CONCURRENT_UPSTREAM: '1',
        KIRO_ADMISSION_QUEUE_SIZE: '1',
        KIRO_ADMISSION_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS),
        KIRO_UPSTREAM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      },
      observability: { metrics },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const value = async (name: string, labels?: Record<string, string>) => parseProm(await metrics.metricsText()).sum(`kiro_gateway_${name}`, labels);

  it('queues the second request until the first is done, sheds the third at once, and reports saturation', async () => {
    const before = { queued: await value('admission_admitted_total', { path: 'queued' }), full: await value('admission_shed_total', { reason: 'queue_full' }) };
    const first = post(`${stack.url}/v1/messages`, slowRequest(300));
    await eventually(async () => (await value('admission_active')) === 1);
    const second = post(`${stack.url}/v1/messages`, quickRequest);
    await eventually(async () => (await value('admission_queued')) === 1);

    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', admission: { active: 1, queued: 1, limit: 1, queueSize: 1, saturated: true } });

    const third = await post(`${stack.url}/v1/messages`, quickRequest);
    expect(third.status).toBe(529);
    expect(third.json).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(third.json.error.message).toMatch(/limit of 1 concurrent upstream requests/);
    expect(third.headers.get('retry-after')).toBe(String(Math.ceil(QUEUE_TIMEOUT_MS / 1000)));
    expect(third.headers.get('x-should-retry')).toBe('true');

    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect((await value('admission_admitted_total', { path: 'queued' })) - before.queued).toBe(1);
    expect((await value('admission_shed_total', { reason: 'queue_full' })) - before.full).toBe(1);
    await eventually(async () => (await value('admission_active')) === 0 && (await value('admission_queued')) === 0);
  });

  it('sheds a queued request with 529 + retry-after when no slot frees within the queue timeout', { timeout: 30_000 }, async () => {
    const timeoutsBefore = await value('admission_shed_total', { reason: 'queue_timeout' });
    const holder = post(`${stack.url}/v1/messages`, holdingRequest);
    await eventually(async () => (await value('admission_active')) === 1);

    const started = Date.now();
    const waited = await post(`${stack.url}/v1/messages`, quickRequest);

    expect(waited.status).toBe(529);
    expect(waited.json.error.type).toBe('overloaded_error');
    expect(waited.json.error.message).toMatch(new RegExp(`within ${QUEUE_TIMEOUT_MS} ms`));
    expect(Number(waited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(QUEUE_TIMEOUT_MS - 50);
    expect((await value('admission_shed_total', { reason: 'queue_timeout' })) - timeoutsBefore).toBe(1);
    expect((await holder).status).toBe(502);
  });

  it('frees the slot of a queued request whose client leaves', async () => {
    await eventually(async () => (await value('admission_active')) === 0);
    const holder = post(`${stack.url}/v1/messages`, slowRequest(1_000));
    await eventually(async () => (await value('admission_active')) === 1);
    const leaving = new AbortController();
    const gone = fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.client.apiKey! },
      body: JSON.stringify(quickRequest),
      signal: leaving.signal,
    }).catch(() => undefined);
    await eventually(async () => (await value('admission_queued')) === 1);
    leaving.abort();
    await gone;
    await eventually(async () => (await value('admission_queued')) === 0);

    expect((await holder).status).toBe(200);
    await eventually(async () => (await value('admission_active')) === 0);
    // And the replica serves normally afterwards.
    expect((await post(`${stack.url}/v1/messages`, quickRequest)).status).toBe(200);
  });
});
