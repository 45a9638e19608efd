/**
 * Every simulator failure mode, driven through the gateway over HTTP, with the exact outcome a
 * client sees (docs/kiro-protocol.md §9 failover, §6.2 exceptions, §12.1 truncation).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from '@anthropic-ai/sdk';
import { DEFAULT_TEXT, simScript, type Script } from '../../src/simulator/index.js';
import { eventually, post, refreshTokenFor, startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { credentialId, generateCalls, rawStream } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const A = refreshTokenFor('failures-a');
const B = refreshTokenFor('failures-b');

/** One credential; short idle timeout so stalls end quickly. */
const SINGLE: StackOptions = {
  credentials: [{ refreshToken: A, authMethod: 'social' }],
  env: { KIRO_UPSTREAM_IDLE_TIMEOUT_MS: '300' },
};
/** Two credentials in priority order: A first, then B. */
const DOUBLE: StackOptions = {
  credentials: [
    { refreshToken: A, authMethod: 'social', priority: 0 },
    { refreshToken: B, authMethod: 'social', priority: 1 },
  ],
};

const ask = (script?: Script) => `Hello ${script ? simScript(script) : ''}`;
const params = (content: string) => ({ model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content }] });

/** Streams with the SDK, collecting the text deltas; resolves with the final message or the error. */
async function sdkStream(stack: Stack, content: string) {
  const stream = stack.client.messages.stream(params(content));
  let text = '';
  stream.on('text', (delta) => {
    text += delta;
  });
  try {
    const message = await stream.finalMessage();
    return { text, message, error: undefined };
  } catch (error) {
    return { text, message: undefined, error: error as APIError };
  }
}

function expectApiError(err: unknown, type: string, status?: number): APIError {
  expect(err).toBeInstanceOf(APIError);
  const e = err as APIError;
  expect(e.type).toBe(type);
  expect(e.error).toMatchObject({ type: 'error', error: { type } });
  if (status !== undefined) expect(e.status).toBe(status);
  return e;
}

describe('upstream HTTP failures before the stream: retries, failover and the final error', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('force-refreshes the token once on a 403 "bearer token invalid" and then succeeds', async () => {
    stack = await startStack(SINGLE);
    await stack.client.messages.create(params('warm up'));
    const before = { ...stack.sim.stats.byAccount[A]! };
    stack.sim.setAccount(A, { mode: 'invalid-token-403', times: 1 });

    const message = await stack.client.messages.create(params('Hi'));

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const after = stack.sim.stats.byAccount[A]!;
    expect(after.refresh - before.refresh).toBe(1);
    expect(after.generate - before.generate).toBe(2);
    const record = stack.gateway.store.get(credentialId(stack, A))!;
    expect(record.stats.failureCount).toBe(0);
    expect(record.credential.disabled).toBe(false);
  });

  it('retries a single 429 on the same credential and succeeds', async () => {
    stack = await startStack(SINGLE);
    stack.sim.setAccount(A, { mode: 'rate-limit-429', times: 1 });

    const message = await stack.client.messages.create(params('Hi'));

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(generateCalls(stack).map((r) => r.status)).toEqual([429, 200]);
  });

  it('moves a request that got a 429 to the second credential', async () => {
    stack = await startStack(DOUBLE);
    stack.sim.setAccount(A, { mode: 'rate-limit-429', times: 1 });

    const message = await stack.client.messages.create(params('Hi'));

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const calls = generateCalls(stack);
    expect(calls.map((r) => [r.account, r.status])).toEqual([
      [A, 429],
      [B, 200],
    ]);
    // A 429 is the upstream's load, not the credential's fault.
    const a = stack.gateway.store.get(credentialId(stack, A))!;
    expect(a.credential.disabled).toBe(false);
    expect(a.stats.failureCount).toBe(0);
  });

  it('survives two 5xx answers and does not blame the credential', async () => {
    stack = await startStack(SINGLE);
    stack.sim.setAccount(A, { mode: 'server-error-503', times: 2 });

    const message = await stack.client.messages.create(params('Hi'));

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(generateCalls(stack).map((r) => r.status)).toEqual([503, 503, 200]);
    const record = stack.gateway.store.get(credentialId(stack, A))!;
    expect(record.credential.disabled).toBe(false);
    expect(record.stats.failureCount).toBe(0);
    expect(record.stats.failureTotal).toBe(0);
  });

  it('answers 429 rate_limit_error when every attempt is rate limited', async () => {
    stack = await startStack(SINGLE);
    stack.sim.setAccount(A, { mode: 'rate-limit-429' });

    const res = await post(`${stack.url}/v1/messages`, params('Hi'));

    expect(res.status).toBe(429);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(typeof res.json.error.message).toBe('string');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(generateCalls(stack).length).toBe(3);
    expect(stack.gateway.store.get(credentialId(stack, A))!.credential.disabled).toBe(false);
  });

  it('answers 502 api_error when every attempt gets a 5xx', async () => {
    stack = await startStack(SINGLE);
    stack.sim.setAccount(A, { mode: 'server-error-500' });

    const err = await stack.client.messages.create(params('Hi')).catch((e: unknown) => e);

    expectApiError(err, 'api_error', 502);
    expect(generateCalls(stack).map((r) => r.status)).toEqual([500, 500, 500]);
    expect(stack.gateway.store.get(credentialId(stack, A))!.credential.disabled).toBe(false);
  });

  it('retries a connection reset before the response and answers 502 api_error when it persists', async () => {
    stack = await startStack(SINGLE);

    const res = await post(`${stack.url}/v1/messages`, params(ask({ fault: { kind: 'reset' } })));

    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    // Three attempts, each reset by the simulator before any response.
    expect(generateCalls(stack).map((r) => r.rejection)).toEqual(['script: reset', 'script: reset', 'script: reset']);
    expect(stack.gateway.store.get(credentialId(stack, A))!.stats.failureCount).toBe(0);
  });

  it('treats a 200 with an empty body as a failure before the first byte: retried, then 502 api_error', async () => {
    stack = await startStack(SINGLE);

    const res = await post(`${stack.url}/v1/messages`, params(ask({ events: [], usage: false })));

    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(generateCalls(stack).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(stack.gateway.store.get(credentialId(stack, A))!.stats.failureCount).toBe(0);
  });

  it('disables a credential whose monthly quota is spent (402) and serves the request with the next one', async () => {
    stack = await startStack(DOUBLE);
    stack.sim.setAccount(A, { mode: 'quota-402' });
    const idA = credentialId(stack, A);
    const idB = credentialId(stack, B);

    const message = await stack.client.messages.create(params('Hi'));

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(generateCalls(stack).map((r) => [r.account, r.status])).toEqual([
      [A, 402],
      [B, 200],
    ]);
    await eventually(() => stack!.gateway.store.get(idA)!.credential.disabled);
    expect(stack.gateway.store.get(idA)!.credential.disabledReason).toBe('QuotaExceeded');
    expect(stack.gateway.store.get(idB)!.credential.disabled).toBe(false);

    // The disabled credential is not tried again.
    await stack.client.messages.create(params('Again'));
    expect(generateCalls(stack).map((r) => r.account)).toEqual([A, B, B]);
  });

  it('disables a suspended credential (403) at once and serves the request with the next one', async () => {
    stack = await startStack(DOUBLE);
    stack.sim.setAccount(A, { mode: 'suspended-403' });
    const idA = credentialId(stack, A);

    const message = await stack.client.messages.create(params('Hi'));

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(generateCalls(stack).map((r) => [r.account, r.status])).toEqual([
      [A, 403],
      [B, 200],
    ]);
    await eventually(() => stack!.gateway.store.get(idA)!.credential.disabled);
    expect(stack.gateway.store.get(idA)!.credential.disabledReason).toBe('Suspended');
    await stack.client.messages.create(params('Again'));
    expect(generateCalls(stack).map((r) => r.account)).toEqual([A, B, B]);
  });
});

describe('upstream failures inside the stream', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(SINGLE);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const TEXT_THEN = (fault: Script['fault']): Script => ({
    events: [{ text: 'Hello, ' }, { text: 'world' }, { text: ' — never sent' }],
    usage: false,
    fault,
  });

  for (const mode of ['destroy', 'end'] as const) {
    it(`yields the text so far, then an api_error, when the upstream is cut mid-frame (${mode})`, async () => {
      const { text, message, error } = await sdkStream(stack, ask(TEXT_THEN({ kind: 'cut', afterFrames: 2, mode })));

      expect(message).toBeUndefined();
      expect(text).toBe('Hello, world');
      expectApiError(error, 'api_error');
    });

    it(`ends the SSE body with one complete error event when the upstream is cut mid-frame (${mode})`, async () => {
      const { status, records, text } = await rawStream(stack, params(ask(TEXT_THEN({ kind: 'cut', afterFrames: 2, mode }))));

      expect(status).toBe(200);
      expect(text.endsWith('\n\n')).toBe(true);
      const last = records.at(-1)!;
      expect(last.event).toBe('error');
      expect(last.json).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
      expect(records.filter((r) => r.event === 'error')).toHaveLength(1);
      expect(records.some((r) => r.event === 'message_stop')).toBe(false);
      const deltas = records.filter((r) => r.event === 'content_block_delta').map((r) => r.json.delta.text);
      expect(deltas.join('')).toBe('Hello, world');
    });
  }

  // Corrupt frames (bad CRCs, unreadable events) are in cut-answers.test.ts: they fail the answer.

  it('turns a ThrottlingException frame into an overloaded_error SSE event', async () => {
    const script: Script = {
      events: [{ text: 'Starting' }, { exception: { type: 'ThrottlingException', message: 'Too many requests' } }, { text: 'after' }],
    };

    const { text, error } = await sdkStream(stack, ask(script));

    expect(text).toBe('Starting');
    const e = expectApiError(error, 'overloaded_error');
    expect(e.message).toContain('ThrottlingException');
  });

  it('ends with stop_reason max_tokens after a ContentLengthExceededException', async () => {
    const script: Script = {
      events: [{ text: 'A long answer' }, { exception: { type: 'ContentLengthExceededException', message: 'Response too long' } }],
    };

    const { message, error } = await sdkStream(stack, ask(script));

    expect(error).toBeUndefined();
    expect(message!.stop_reason).toBe('max_tokens');
    expect(message!.content).toEqual([{ type: 'text', text: 'A long answer' }]);
  });

  it('ends a stalled stream with an SSE error event naming the stall instead of hanging', async () => {
    const started = Date.now();
    const { records } = await rawStream(stack, params(ask({ events: [{ text: 'Thinking about it' }], usage: false, fault: { kind: 'stall', afterFrames: 1 } })));

    expect(Date.now() - started).toBeLessThan(3_000);
    const last = records.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.json.error.type).toBe('api_error');
    expect(last.json.error.message).toMatch(/stall/i);
    const deltas = records.filter((r) => r.event === 'content_block_delta').map((r) => r.json.delta.text);
    expect(deltas.join('')).toBe('Thinking about it');
    await eventually(() => stack.sim.stats.streamsInFlight === 0);
  });

  it('shows the stall to the SDK as an api_error after the text so far', async () => {
    const { text, error } = await sdkStream(stack, ask({ events: [{ text: 'Partial' }], usage: false, fault: { kind: 'stall', afterFrames: 1 } }));

    expect(text).toBe('Partial');
    const e = expectApiError(error, 'api_error');
    expect(e.message).toMatch(/stall/i);
  });

  it('answers a non-streaming request whose upstream is cut mid-frame with HTTP 502 api_error', async () => {
    const res = await post(`${stack.url}/v1/messages`, params(ask(TEXT_THEN({ kind: 'cut', afterFrames: 2 }))));

    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
    expect(Object.keys(res.json).every((k) => ['type', 'error', 'request_id'].includes(k))).toBe(true);
  });

  it('answers a non-streaming request whose upstream stalls with HTTP 502 api_error', async () => {
    const started = Date.now();
    const res = await post(`${stack.url}/v1/messages`, params(ask({ events: [{ text: 'Partial' }], usage: false, fault: { kind: 'stall', afterFrames: 1 } })));

    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.status).toBe(502);
    expect(res.json.type).toBe('error');
    expect(res.json.error.type).toBe('api_error');
    expect(res.json.error.message).toMatch(/stall/i);
  });

  it('still serves a normal request after all of that', async () => {
    const message = await stack.client.messages.create(params('Hi'));
    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
  });
});
