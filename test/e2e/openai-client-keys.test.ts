/**
 * Managed client keys on the OpenAI routes, driven by the official `openai` SDK: the same gate as
 * /v1/messages (one pipeline), so a key's allowed models, its limits (429 with retry-after and the
 * rate-limit headers) and its usage accounting hold for Chat Completions and Responses too, with the
 * errors in OpenAI's shape.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { adminCall, createClientKey } from '../helpers/client-keys.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { openAiClient } from '../helpers/openai.js';

const MODEL = 'claude-sonnet-4-6';

let stack: Stack;

const admin = (method: string, path: string, body?: unknown) => adminCall(stack.url, method, path, body);
const createKey = (body: Record<string, unknown>) => createClientKey(stack.url, body);

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.close();
});

describe('managed client keys on the OpenAI routes', () => {
  it('refuses a model the key may not use with 403 permission_denied, and serves the allowed one', async () => {
    const { secret } = await createKey({ name: 'haiku-only', models: ['claude-haiku-*'] });
    const client = openAiClient(stack, secret);
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('permission_denied');
    const ok = await client.chat.completions.create({ model: 'claude-haiku-4-5-20251001', messages: [{ role: 'user', content: 'Hi' }] });
    expect(ok.choices[0]!.finish_reason).toBe('stop');
  });

  it('lists only the models the key may use when asked the OpenAI way, as the Anthropic way does', async () => {
    const { secret } = await createKey({ name: 'haiku-list', models: ['claude-haiku-*'] });
    const ids = (await openAiClient(stack, secret).models.list()).data.map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toMatch(/^claude-haiku-/);
    const all = (await openAiClient(stack).models.list()).data.map((m) => m.id);
    expect(all.some((id) => !id.startsWith('claude-haiku-'))).toBe(true);
    const other = all.find((id) => !id.startsWith('claude-haiku-'))!;
    await expect(openAiClient(stack, secret).models.retrieve(other)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await openAiClient(stack, secret).models.retrieve(ids[0]!)).id).toBe(ids[0]);
  });

  it('holds requests/minute across Chat Completions and Responses: 429 rate_limit_exceeded with retry-after and the headers', async () => {
    const { secret } = await createKey({ name: 'rpm', limits: { requestsPerMinute: 2 } });
    const client = openAiClient(stack, secret);
    const { response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('2');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('1');
    await client.responses.create({ model: MODEL, input: 'Hi' });
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.message).toContain('2 requests per minute');
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(e.headers?.get('anthropic-ratelimit-requests-remaining')).toBe('0');
  });

  it('accounts the usage of both routes to the key', async () => {
    const { id, secret } = await createKey({ name: 'openai usage' });
    const client = openAiClient(stack, secret);
    const metered = simScript({ events: [{ text: 'Sure.' }, { contextUsage: 0.1 }, { metering: 0.25 }] });
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `Go ${metered}` }] });
    const stream = client.responses.stream({ model: MODEL, input: `Go ${metered}` });
    expect((await stream.finalResponse()).status).toBe('completed');
    const usage = await admin('GET', '/usage?granularity=day&subject=key');
    expect(usage.json.rows.find((r: { id: string }) => r.id === id)).toMatchObject({ requests: 2, credits: 0.5, errors: 0 });
  });
});
