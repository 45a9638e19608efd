/**
 * Managed client keys on one gateway process (no Redis: keys in client-keys.json, limits in the
 * process), driven by the real `@anthropic-ai/sdk` and the admin API over HTTP, the simulator as Kiro:
 * a key is shown once and stored as a hash; its limits answer 429 rate_limit_error with retry-after and
 * the anthropic-ratelimit-* headers (RateLimitError in the SDK), also sent on its successful answers;
 * token limits count what answers actually used; allowed models, pinned credentials and the disabled
 * flag apply; the configuration's apiKey stays unlimited; usage is accounted per key and credential.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { adminCall, createClientKey } from '../helpers/client-keys.js';
import { ADMIN_KEY, API_KEY, eventually, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';

const MODEL = 'claude-sonnet-4-6';
const RT_ONE = refreshTokenFor('keys-one');
const RT_TWO = refreshTokenFor('keys-two');

let stack: Stack;

const admin = (method: string, path: string, body?: unknown) => adminCall(stack.url, method, path, body);
const createKey = (body: Record<string, unknown>) => createClientKey(stack.url, body);

const sdk = (key: string) => new Anthropic({ baseURL: stack.url, apiKey: key, maxRetries: 0, logLevel: 'error' });
const ask = (key: string, extra: Record<string, unknown> = {}) =>
  post(`${stack.url}/v1/messages`, { model: MODEL, max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }], ...extra }, { 'x-api-key': key });

beforeAll(async () => {
  stack = await startStack({
    credentials: [
      { refreshToken: RT_ONE, authMethod: 'social', priority: 0, email: 'one@example.com' },
      { refreshToken: RT_TWO, authMethod: 'social', priority: 1, email: 'two@example.com' },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
});

describe('managed client keys (one process)', () => {
  it('shows a new key once, stores only its hash, and never lists it', async () => {
    const { id, secret } = await createKey({ name: 'team-a', owner: 'Team A <a@example.com>' });
    expect(secret).toMatch(/^sk-kgw-[A-Za-z0-9_-]{43}$/);
    const list = await admin('GET', '/keys');
    expect(list.status).toBe(200);
    expect(list.json.limiter).toEqual({ mode: 'process', replicas: 1 });
    const item = list.json.keys.find((k: { id: string }) => k.id === id);
    expect(item).toMatchObject({ name: 'team-a', owner: 'Team A <a@example.com>', enabled: true, models: [], credentials: [], limits: {} });
    expect(item.hint).toBe(`sk-kgw-…${secret.slice(-4)}`);
    expect(list.text).not.toContain(secret);
    expect((await admin('GET', `/keys/${id}`)).text).not.toContain(secret);
    // client-keys.json beside credentials.json: the hash, never the key.
    const file = readFileSync(join(dirname(stack.credentialsPath), 'client-keys.json'), 'utf8');
    expect(file).toContain(id);
    expect(file).not.toContain(secret);
    // The key works, and a key without limits gets no rate-limit headers.
    const res = await ask(secret);
    expect(res.status).toBe(200);
    expect(res.headers.get('anthropic-ratelimit-requests-limit')).toBeNull();
  });

  it('keeps the configured apiKey working, unlimited and without rate-limit headers', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await ask(API_KEY);
      expect(res.status).toBe(200);
      expect([...res.headers.keys()].filter((h) => h.startsWith('anthropic-ratelimit'))).toEqual([]);
    }
  });

  it('refuses the request over requests/minute with 429 rate_limit_error, retry-after and the headers the SDK reads', async () => {
    const { secret } = await createKey({ name: 'rpm', limits: { requestsPerMinute: 3 } });
    const client = sdk(secret);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
      expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('3');
      remaining.push(response.headers.get('anthropic-ratelimit-requests-remaining')!);
      expect(Date.parse(response.headers.get('anthropic-ratelimit-requests-reset')!)).toBeGreaterThan(Date.now() - 1000);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const err = await client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect((e.error as any).error.message).toContain('3 requests per minute');
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(e.headers?.get('retry-after'))).toBeLessThanOrEqual(20);
    expect(e.headers?.get('anthropic-ratelimit-requests-limit')).toBe('3');
    expect(e.headers?.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(e.headers?.get('x-should-retry')).toBe('true');
  });

  it('counts the tokens answers actually used against tokens/minute, and refuses once they are spent', async () => {
    // contextUsage 1 % of a 1M window = 10,000 input tokens, whatever the prompt's size.
    const { secret } = await createKey({ name: 'tpm', limits: { tokensPerMinute: 15_000 } });
    const big = simScript({ events: [{ text: 'Sure.' }, { contextUsage: 1 }, { metering: 0.5 }] });
    const first = await ask(secret, { messages: [{ role: 'user', content: `Go ${big}` }] });
    expect(first.status).toBe(200);
    expect(first.headers.get('anthropic-ratelimit-tokens-limit')).toBe('15000');
    expect(first.headers.get('anthropic-ratelimit-tokens-remaining')).toBe('15000');
    const used = first.json.usage.input_tokens + first.json.usage.output_tokens;
    expect(first.json.usage.input_tokens).toBe(10_000);
    const second = await ask(secret, { messages: [{ role: 'user', content: `Go ${big}` }] });
    expect(second.status).toBe(200);
    // What the first answer used is gone (give or take the refill of the seconds in between).
    const left = Number(second.headers.get('anthropic-ratelimit-tokens-remaining'));
    expect(left).toBeLessThanOrEqual(15_000 - used + 1_500);
    expect(left).toBeGreaterThanOrEqual(15_000 - used);
    // Two answers used over 20,000 tokens: the bucket is in debt.
    const third = await ask(secret);
    expect(third.status).toBe(429);
    expect(third.json.error.type).toBe('rate_limit_error');
    expect(third.json.error.message).toContain('tokens per minute');
    expect(third.headers.get('anthropic-ratelimit-tokens-remaining')).toBe('0');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('counts Kiro credits per day', async () => {
    const { secret } = await createKey({ name: 'credits', limits: { creditsPerDay: 1 } });
    const metered = simScript({ events: [{ text: 'Sure.' }, { contextUsage: 0.1 }, { metering: 0.75 }] });
    expect((await ask(secret, { messages: [{ role: 'user', content: `Go ${metered}` }] })).status).toBe(200);
    expect((await ask(secret, { messages: [{ role: 'user', content: `Go ${metered}` }] })).status).toBe(200);
    const refused = await ask(secret);
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toContain('Kiro credits per day');
    // Until the next UTC midnight.
    const untilMidnight = Math.ceil((Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000 - Date.now()) / 1000);
    expect(Math.abs(Number(refused.headers.get('retry-after')) - untilMidnight)).toBeLessThanOrEqual(5);
  });

  it('holds concurrent streams to the limit and frees the slot when a stream ends', async () => {
    const { secret } = await createKey({ name: 'conc', limits: { concurrentStreams: 1 } });
    const slow = simScript({ events: [{ text: 'a' }, { text: 'b' }, { text: 'c' }], chunkDelayMs: 300 });
    const first = ask(secret, { stream: true, messages: [{ role: 'user', content: `Slow ${slow}` }] });
    await eventually(() => stack.gateway.lifecycle.inFlight === 1);
    const second = await ask(secret);
    expect(second.status).toBe(429);
    expect(second.json.error.message).toContain('1 concurrent requests');
    expect((await first).status).toBe(200);
    expect((await ask(secret)).status).toBe(200);
  });

  it('refuses models the key may not use (403 permission_error) and lists only the allowed ones', async () => {
    const { secret } = await createKey({ name: 'haiku-only', models: ['claude-haiku-*'] });
    const refused = await ask(secret);
    expect(refused.status).toBe(403);
    expect(refused.json.error.type).toBe('permission_error');
    expect(refused.json.error.message).toContain(MODEL);
    const allowed = await ask(secret, { model: 'claude-haiku-4-5-20251001' });
    expect(allowed.status).toBe(200);
    const models = (await fetch(`${stack.url}/v1/models`, { headers: { 'x-api-key': secret } }).then((r) => r.json())) as { data: Array<{ id: string }> };
    expect(models.data.length).toBeGreaterThan(0);
    expect(models.data.every((m: { id: string }) => m.id.startsWith('claude-haiku-'))).toBe(true);
    const err = await sdk(secret).messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  });

  it('serves a key pinned to one credential only from that credential', async () => {
    const two = stack.gateway.store.list().find((r) => r.credential.refreshToken === RT_TWO || r.credential.email === 'two@example.com')!;
    const { secret } = await createKey({ name: 'pinned', credentials: [two.credential.id] });
    const before = stack.sim.stats.byAccount[RT_TWO]?.generate ?? 0;
    for (let i = 0; i < 3; i++) expect((await ask(secret)).status).toBe(200);
    expect((stack.sim.stats.byAccount[RT_TWO]?.generate ?? 0) - before).toBe(3);
    // Pinning a credential that does not exist is refused up front.
    expect((await admin('POST', '/keys', { name: 'ghost', credentials: [999] })).status).toBe(400);
  });

  it('refuses a disabled key (403) and a deleted one (401), at once', async () => {
    const { id, secret } = await createKey({ name: 'short-lived' });
    expect((await ask(secret)).status).toBe(200);
    expect((await admin('PATCH', `/keys/${id}`, { enabled: false })).status).toBe(200);
    const disabled = await ask(secret);
    expect(disabled.status).toBe(403);
    expect(disabled.json.error.message).toContain('disabled');
    expect((await admin('PATCH', `/keys/${id}`, { enabled: true, limits: { requestsPerMinute: 100 } })).json.key.limits).toEqual({ requestsPerMinute: 100 });
    expect((await ask(secret)).headers.get('anthropic-ratelimit-requests-limit')).toBe('100');
    expect((await admin('DELETE', `/keys/${id}`)).status).toBe(200);
    const deleted = await ask(secret);
    expect(deleted.status).toBe(401);
    expect(deleted.json.error.type).toBe('authentication_error');
  });

  it('refuses bad admin input with 400 naming the field', async () => {
    for (const [body, words] of [
      [{}, 'name'],
      [{ name: 'x', limits: { requestsPerMinute: -1 } }, 'requestsPerMinute'],
      [{ name: 'x', limits: { perFortnight: 1 } }, 'perFortnight'],
      [{ name: 'x', models: 'claude' }, 'models'],
      [{ name: 'x', color: 'red' }, 'color'],
    ] as const) {
      const res = await admin('POST', '/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toContain(words);
    }
    expect((await admin('PATCH', '/keys/nope', { name: 'x' })).status).toBe(400);
    expect((await admin('PATCH', '/keys/key_0000000000000000', { name: 'x' })).status).toBe(404);
  });

  it('accounts usage per key and per credential, hourly and daily, as JSON and CSV', async () => {
    const { id, secret } = await createKey({ name: 'usage, "quoted"' });
    const metered = simScript({ events: [{ text: 'Sure.' }, { contextUsage: 0.1 }, { metering: 0.25 }] });
    for (let i = 0; i < 2; i++) expect((await ask(secret, { messages: [{ role: 'user', content: `Go ${metered}` }] })).status).toBe(200);
    const usage = await admin('GET', '/usage?granularity=hour&subject=key');
    expect(usage.status).toBe(200);
    const row = usage.json.rows.find((r: { id: string }) => r.id === id);
    expect(row).toMatchObject({ subject: 'key', name: 'usage, "quoted"', requests: 2, inputTokens: 2_000, credits: 0.5, errors: 0 });
    expect(row.outputTokens).toBeGreaterThan(0);
    const daily = await admin('GET', '/usage?granularity=day');
    expect(daily.json.rows.find((r: { id: string; subject: string }) => r.subject === 'key' && r.id === id)).toMatchObject({ requests: 2 });
    const credentials = daily.json.rows.filter((r: { subject: string }) => r.subject === 'credential');
    expect(credentials.length).toBeGreaterThan(0);
    expect(credentials.some((r: { name: string | null }) => r.name === 'one@example.com')).toBe(true);
    // The rate-limited requests of earlier tests are counted too.
    expect(daily.json.rows.some((r: { rateLimited: number }) => r.rateLimited > 0)).toBe(true);
    const csv = await fetch(`${stack.url}/api/admin/usage.csv?granularity=day`, { headers: { 'x-api-key': ADMIN_KEY } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toContain('attachment');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('start,granularity,subject,id,name,requests,input_tokens,output_tokens,credits,errors,rate_limited');
    expect(lines.some((l) => l.includes(`,key,${id},"usage, ""quoted""",2,2000,`))).toBe(true);
    expect((await admin('GET', '/usage?granularity=week')).status).toBe(400);
  });
});
