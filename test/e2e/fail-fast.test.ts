/**
 * Fail fast on upstream errors mid-stream (docs/kiro-protocol-newer.md §6) and on Kiro's empty
 * completion (§2), through the real SDK: a truncated answer never looks like a complete one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from '@anthropic-ai/sdk';
import { createSimulator, SIM_MODEL_LISTS, simScript, type Script, type Simulator } from '../../src/simulator/index.js';
import { ADMIN_KEY, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { rawStream } from './sse.js';

const ACCOUNT = refreshTokenFor('fail-fast');
const MODEL = 'claude-sonnet-4-6';
const params = (script: Script, model = MODEL) => ({
  model,
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: `Hello ${simScript(script)}` }],
});

const ERROR_FRAME: Script = { events: [{ text: 'The answer is ' }, { error: { code: 'InternalServerError', message: 'model crashed' } }, { text: 'never sent' }] };
const EXCEPTION_FRAME: Script = { events: [{ text: 'Partial ' }, { exception: { type: 'ValidationException', message: 'bad state' } }, { text: 'never sent' }] };
/** What Kiro sends for Sonnet 5 above its input cap: usage frames only. */
const EMPTY: Script = { events: [{ contextUsage: 7 }, { metering: 0.02 }] };

describe('fail fast on upstream errors', () => {
  let sim: Simulator;
  let stack: Stack;
  beforeAll(async () => {
    sim = await createSimulator();
    sim.setAccount(ACCOUNT, { models: SIM_MODEL_LISTS.sonnet5 });
    stack = await startStack({ simulator: sim, credentials: [{ refreshToken: ACCOUNT, authMethod: 'social' }] });
  });
  afterAll(async () => {
    await stack.close();
    await sim.close();
  });

  it.each([
    ['an error frame', ERROR_FRAME],
    ['an exception frame', EXCEPTION_FRAME],
  ])('ends the SSE stream after %s with an error event and no message_stop; the SDK raises', async (_, script) => {
    const raw = await rawStream(stack, params(script));
    expect(raw.status).toBe(200);
    const kinds = raw.records.map((r) => r.event);
    expect(kinds.at(-1)).toBe('error');
    expect(kinds).not.toContain('message_stop');
    expect(kinds).not.toContain('message_delta');
    expect(raw.text).not.toContain('never sent');
    expect(raw.records.at(-1)!.json).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringMatching(/InternalServerError|ValidationException/) } });

    let text = '';
    const stream = stack.client.messages.stream(params(script));
    stream.on('text', (t) => (text += t));
    const error = await stream.finalMessage().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(APIError);
    expect(text.length).toBeGreaterThan(0);
  });

  it('answers a non-streaming request whose stream had an error frame with 502 and the Anthropic error body', async () => {
    const res = await post(`${stack.url}/v1/messages`, params(ERROR_FRAME));
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('model crashed') } });
  });

  it('drops the buffer of /cc/v1 and sends only the error', async () => {
    const raw = await rawStream(stack, params(ERROR_FRAME), '/cc/v1/messages');
    expect(raw.records.map((r) => r.event)).toEqual(['error']);
  });

  it('treats Sonnet 5\'s empty completion as an error that says why, streaming and not', async () => {
    const raw = await rawStream(stack, params(EMPTY, 'claude-sonnet-5'));
    expect(raw.records.map((r) => r.event)).toEqual(['message_start', 'error']);
    expect(raw.records[1].json.error.message).toMatch(/empty completion for claude-sonnet-5 .*effective input cap/);

    const json = await post(`${stack.url}/v1/messages`, params(EMPTY, 'claude-sonnet-5'));
    expect(json.status).toBe(502);
    expect(json.json.error).toMatchObject({ type: 'api_error', message: expect.stringContaining('empty completion') });
    await expect(stack.client.messages.create(params(EMPTY, 'claude-sonnet-5'))).rejects.toBeInstanceOf(APIError);
  });
});

describe('credits', () => {
  it('sums meteringEvent usage per request into kiro_gateway_credits_total{credential,model} and the request log line', async () => {
    const { createSimulator: create } = await import('../../src/simulator/index.js');
    const { pino } = await import('pino');
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const sim = await create();
    const stack = await startStack({ simulator: sim, observability: { logger } });
    try {
      await stack.client.messages.create(params({ events: [{ text: 'Paid answer.' }, { metering: 0.0052 }, { metering: 0.0011 }] }));
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith('kiro_gateway_credits_total{'));
      expect(line).toMatch(/credential="1"/);
      expect(line).toMatch(/model="sonnet"/);
      expect(Number(line!.split(' ').at(-1))).toBeCloseTo(0.0063, 6);
      const requestLine = lines.find((l) => typeof l.credits === 'number');
      expect(requestLine?.credits).toBeCloseTo(0.0063, 6);
    } finally {
      await stack.close();
      await sim.close();
    }
  });

  it('adds each request’s credits to its credential’s stats (memory store), shown by the admin API', async () => {
    const stack = await startStack();
    try {
      await stack.client.messages.create(params({ events: [{ text: 'One.' }, { metering: 0.25 }] }));
      await stack.client.messages.stream(params({ events: [{ text: 'Two.' }, { metering: 0.125 }, { metering: 0.0625 }] })).finalMessage();
      // A request without a meteringEvent adds nothing.
      await stack.client.messages.create(params({ events: [{ text: 'Free.' }, { contextUsage: 1 }] }));
      expect(stack.gateway.store.kind).toBe('memory');
      expect(stack.gateway.store.get(1)?.stats.creditsUsed).toBe(0.4375);
      const res = await fetch(`${stack.url}/api/admin/credentials`, { headers: { 'x-api-key': ADMIN_KEY } });
      const body = (await res.json()) as { credentials: Array<{ id: number; creditsUsed: number; successCount: number }> };
      expect(body.credentials[0]).toMatchObject({ id: 1, creditsUsed: 0.4375, successCount: 3 });
    } finally {
      await stack.close();
    }
  });
});
