/**
 * Client key limits across replicas: three gateway processes (node dist/src/main.js) share one real
 * redis-server, the simulator answers as Kiro. Requests spread over the three admit exactly the key's
 * limit (± the documented tolerance: the refill during the burst), the rest get 429 with the
 * anthropic-ratelimit-* headers; token limits count what answers used, wherever they were served;
 * concurrent streams are held over every replica; a key disabled on one replica is refused on the
 * others at once. Redis SIGKILLed: every replica enforces its share (limit / 3), requests keep
 * flowing, /readyz and the metric say so; after the restart the limits are shared again and the usage
 * of the outage is counted exactly once.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, simScript, type Simulator } from '../../src/simulator/index.js';
import { redisForFile } from '../helpers/file-redis.js';
import { ensureBuilt, readyz, sleep, startCluster, type Cluster } from '../helpers/replicas.js';
import { adminCall as admin, createClientKey } from '../helpers/client-keys.js';
import { parseJsonOr } from '../helpers/http-body.js';
import { API_KEY, refreshTokenFor } from '../helpers/stack.js';

const MODEL = 'claude-sonnet-4-6';
const PREFIX = 'cluster-keys:';

const redis = redisForFile({ appendonly: true });
let sim: Simulator;
let cluster: Cluster;
const urls = () => cluster.replicas.map((r) => r.url);

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function ask(url: string, key: string, content = 'Hi', extra: Record<string, unknown> = {}): Promise<Answer> {
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ model: MODEL, max_tokens: 32, messages: [{ role: 'user', content }], ...extra }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: parseJsonOr(text, text) };
}

/** Creates a key through replica 0 and waits until every replica knows it. */
async function createKey(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const key = await createClientKey(urls()[0]!, body);
  for (const url of urls()) {
    await expect.poll(async () => (await admin(url, 'GET', `/keys/${key.id}`)).status, { timeout: 5_000 }).toBe(200);
  }
  return key;
}

async function usageOf(url: string, keyId: string): Promise<{ requests: number; rateLimited: number; inputTokens: number }> {
  const res = await admin(url, 'GET', '/usage?granularity=day&subject=key');
  expect(res.status).toBe(200);
  const rows = res.json.rows.filter((r: { id: string }) => r.id === keyId);
  const sum = (f: string) => rows.reduce((a: number, r: Record<string, number>) => a + r[f]!, 0);
  return { requests: sum('requests'), rateLimited: sum('rateLimited'), inputTokens: sum('inputTokens') };
}

beforeAll(async () => {
  await ensureBuilt();
  sim = await createSimulator();
  cluster = await startCluster({
    n: 3,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [{ refreshToken: refreshTokenFor('cluster-keys'), authMethod: 'social' }],
    env: { KIRO_REDIS_KEY_PREFIX: PREFIX, KIRO_METRICS_ENABLED: 'true' },
  });
  // Every replica has a token, and every replica's heartbeat is in (the fallback divides by 3).
  await Promise.all(urls().map((url) => ask(url, API_KEY)));
  await sleep(1_000);
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await sim?.close();
});

describe('client key limits shared by 3 gateway processes', () => {
  it('admits exactly requestsPerMinute of 36 requests spread over the replicas; the rest get 429 with the headers', async () => {
    const { secret } = await createKey({ name: 'rpm-10', limits: { requestsPerMinute: 10 } });
    const answers = await Promise.all(Array.from({ length: 36 }, (_, i) => ask(urls()[i % 3]!, secret)));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    // A burst takes the full bucket of 10; the refill while it runs (10 per minute) may add one.
    expect(ok.length).toBeGreaterThanOrEqual(10);
    expect(ok.length).toBeLessThanOrEqual(11);
    expect(ok.length + refused.length).toBe(36);
    for (const a of ok) expect(a.headers.get('anthropic-ratelimit-requests-limit')).toBe('10');
    for (const a of refused) {
      expect(a.json.error.type).toBe('rate_limit_error');
      expect(a.headers.get('anthropic-ratelimit-requests-limit')).toBe('10');
      expect(a.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(a.headers.get('retry-after'))).toBeLessThanOrEqual(6);
      expect(Date.parse(a.headers.get('anthropic-ratelimit-requests-reset')!)).toBeGreaterThan(Date.now());
    }
    // Every replica refused some: the limit is one for all of them.
    const refusedBy = new Set(answers.map((a, i) => (a.status === 429 ? i % 3 : -1)).filter((i) => i >= 0));
    expect(refusedBy.size).toBe(3);
    // The real SDK (no retries) sees RateLimitError with the headers.
    const sdk = new Anthropic({ baseURL: urls()[1], apiKey: secret, maxRetries: 0, logLevel: 'error' });
    const err = await sdk.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.headers?.get('anthropic-ratelimit-requests-limit')).toBe('10');
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('counts the tokens each answer used, on whichever replica served it', async () => {
    const { secret } = await createKey({ name: 'tpm', limits: { tokensPerMinute: 25_000 } });
    // contextUsage 1 % of a 1M window: 10,000 input tokens per answer.
    const big = `Go ${simScript({ events: [{ text: 'Done.' }, { contextUsage: 1 }] })}`;
    const [a, b, c] = urls() as [string, string, string];
    const first = await ask(a, secret, big);
    expect(first.status).toBe(200);
    const used1 = first.json.usage.input_tokens + first.json.usage.output_tokens;
    await sleep(600); // A's flush (every 250 ms) tells Redis
    const second = await ask(b, secret, big);
    expect(second.status).toBe(200);
    const left = Number(second.headers.get('anthropic-ratelimit-tokens-remaining'));
    expect(left).toBeLessThanOrEqual(25_000 - used1 + 500);
    expect(left).toBeGreaterThanOrEqual(25_000 - used1 - 1);
    const third = await ask(c, secret, big);
    expect(third.status).toBe(200);
    await sleep(600);
    // 30,000 and more used against 25,000 per minute: refused on every replica.
    for (const url of urls()) {
      const refused = await ask(url, secret);
      expect(refused.status).toBe(429);
      expect(refused.json.error.message).toContain('tokens per minute');
      expect(refused.headers.get('anthropic-ratelimit-tokens-remaining')).toBe('0');
    }
  });

  it('holds concurrent streams over every replica and frees a slot when its stream ends', async () => {
    const { secret } = await createKey({ name: 'streams-2', limits: { concurrentStreams: 2 } });
    const slow = `Slow ${simScript({ events: [{ text: 'a' }, { text: 'b' }, { text: 'c' }, { text: 'd' }], chunkDelayMs: 500 })}`;
    const [a, b, c] = urls() as [string, string, string];
    const running = [ask(a, secret, slow, { stream: true }), ask(b, secret, slow, { stream: true })];
    await sleep(700);
    const third = await ask(c, secret);
    expect(third.status).toBe(429);
    expect(third.json.error.message).toContain('2 concurrent requests');
    for (const r of await Promise.all(running)) expect(r.status).toBe(200);
    await sleep(600); // the releases reach Redis with the next flush
    expect((await ask(c, secret)).status).toBe(200);
  });

  it('refuses a key disabled through one replica on all of them', async () => {
    const { id, secret } = await createKey({ name: 'to-disable' });
    expect((await ask(urls()[2]!, secret)).status).toBe(200);
    expect((await admin(urls()[1]!, 'PATCH', `/keys/${id}`, { enabled: false })).status).toBe(200);
    for (const url of urls()) await expect.poll(async () => (await ask(url, secret)).status, { timeout: 1_000, interval: 50 }).toBe(403);
  });

  it('keeps serving on per-replica shares while Redis is down, and reconciles the usage after its restart', async () => {
    const { id, secret } = await createKey({ name: 'outage', limits: { requestsPerMinute: 6 } });
    expect((await ask(urls()[0]!, secret)).status).toBe(200);
    await sleep(600);

    redis.kill9();
    await sleep(500);
    const during: Answer[] = [];
    for (const url of urls()) for (let i = 0; i < 4; i++) during.push(await ask(url, secret));
    // 6 per minute over 3 live replicas: 2 each; the one request before the outage is forgotten locally.
    const okPerReplica = [0, 1, 2].map((r) => during.slice(r * 4, r * 4 + 4).filter((a) => a.status === 200).length);
    expect(okPerReplica).toEqual([2, 2, 2]);
    const refused = during.filter((a) => a.status === 429);
    expect(refused).toHaveLength(6);
    for (const a of refused) {
      expect(a.json.error.message).toContain("this replica's share");
      expect(a.headers.get('anthropic-ratelimit-requests-limit')).toBe('2');
    }
    // Unlimited traffic is untouched, readiness and the metric tell the mode, nobody crashed.
    for (const url of urls()) {
      expect((await ask(url, API_KEY)).status).toBe(200);
      const ready = await readyz(url);
      expect(ready.status).toBe(200);
      expect(ready.body.clientKeyLimits).toMatchObject({ mode: 'local', replicas: 3 });
      const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/^kiro_gateway_client_key_limits_local 1$/m);
      expect(metrics).not.toContain(secret);
    }
    expect(cluster.replicas.every((r) => r.alive)).toBe(true);
    // Keys are still listed and authenticated from the local copy; changes wait for Redis (503).
    expect((await admin(urls()[0]!, 'GET', '/keys')).status).toBe(200);
    const refusedChange = await admin(urls()[0]!, 'POST', '/keys', { name: 'during-outage' });
    expect(refusedChange.status).toBe(503);
    expect(refusedChange.json.error.message).toContain('Redis unreachable');

    await redis.restart();
    for (const url of urls()) {
      await expect.poll(async () => (await readyz(url)).body.clientKeyLimits?.mode, { timeout: 20_000, interval: 200 }).toBe('shared');
    }
    await sleep(600);
    // 1 before + 6 during the outage, 6 refused: counted once each, whichever replica answers.
    for (const url of urls()) {
      await expect.poll(async () => usageOf(url, id), { timeout: 5_000 }).toMatchObject({ requests: 7, rateLimited: 6 });
    }
    // Shared again, and the outage's 6 requests were taken from the shared bucket: 7 of 6 used, so
    // whatever refilled since (0.1 a second) leaves nothing to spare.
    const after = await ask(urls()[0]!, secret);
    expect(after.status === 429 || after.headers.get('anthropic-ratelimit-requests-remaining') === '0').toBe(true);
    for (const r of cluster.replicas) expect(r.output()).not.toContain(secret);
  }, 90_000);
});
