/**
 * A client that goes away mid-request: the gateway must abort the upstream stream promptly and give
 * back everything the request held (lifecycle slot, the credential's concurrency slot) without
 * blaming the credential.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APIUserAbortError } from '@anthropic-ai/sdk';
import { DEFAULT_TEXT, simScript, type Script } from '../../src/simulator/index.js';
import { API_KEY, eventually, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { expectReleased, LONG } from './disconnects.js';
import { credentialId } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const params = (script: Script) => ({
  model: MODEL,
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: `Tell me a long story ${simScript(script)}` }],
});

describe('client disconnects', () => {
  let stack: Stack;
  let id: number;
  beforeEach(async () => {
    stack = await startStack();
    id = credentialId(stack, refreshTokenFor('default'));
  });
  afterEach(async () => {
    await stack?.close();
  });

  it('aborts the upstream stream and frees its slots when the SDK aborts after the first delta', async () => {
    const stream = stack.client.messages.stream(params(LONG));
    const settled = stream.finalMessage().then(
      () => undefined,
      (e: unknown) => e,
    );
    let abortedAt = 0;
    let text = '';
    let live: unknown;
    stream.on('text', (delta) => {
      text += delta;
      if (abortedAt === 0) {
        // The request is live on both sides right now.
        live = { gateway: stack.gateway.lifecycle.inFlight, credential: stack.gateway.pool.inFlight(id), upstream: stack.sim.stats.streamsInFlight };
        abortedAt = Date.now();
        stream.abort();
      }
    });

    expect(await settled).toBeInstanceOf(APIUserAbortError);
    expect(live).toEqual({ gateway: 1, credential: 1, upstream: 1 });
    expect(text.startsWith('word0 ')).toBe(true);
    expect(text.length).toBeLessThan(100 * 'word00 '.length);
    await expectReleased(stack, id, abortedAt);
  });

  it('aborts the upstream stream when a fetch client aborts after the first delta', async () => {
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ ...params(LONG), stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('"text_delta"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended before the first delta');
      seen += decoder.decode(value, { stream: true });
    }
    const abortedAt = Date.now();
    controller.abort();
    await reader.read().catch(() => undefined);

    await expectReleased(stack, id, abortedAt);
  });

  it('aborts the upstream when a /cc buffered client leaves before anything was sent', async () => {
    const controller = new AbortController();
    const pending = fetch(`${stack.url}/cc/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ ...params(LONG), stream: true }),
      signal: controller.signal,
    }).then((r) => r.text());
    const settled = pending.catch((e: unknown) => e);
    await eventually(() => stack.sim.stats.streamsInFlight === 1);
    await new Promise((r) => setTimeout(r, 100));
    const abortedAt = Date.now();
    controller.abort();

    expect(await settled).toMatchObject({ name: 'AbortError' });
    await expectReleased(stack, id, abortedAt);
  });

  it('aborts the upstream when a non-streaming client leaves mid-answer', async () => {
    const controller = new AbortController();
    const settled = stack.client.messages
      .create({ ...params(LONG), stream: false }, { signal: controller.signal })
      .catch((e: unknown) => e);
    await eventually(() => stack.sim.stats.streamsInFlight === 1);
    await new Promise((r) => setTimeout(r, 100));
    const abortedAt = Date.now();
    controller.abort();

    expect(await settled).toBeInstanceOf(APIUserAbortError);
    await expectReleased(stack, id, abortedAt);
  });

  it('cancels the upstream call when the client leaves before the first upstream byte', async () => {
    const controller = new AbortController();
    const settled = stack.client.messages
      .create({ ...params({ ...LONG, firstByteLatencyMs: 5_000 }), stream: false }, { signal: controller.signal })
      .catch((e: unknown) => e);
    await eventually(() => stack.sim.stats.streamsInFlight === 1);
    const abortedAt = Date.now();
    controller.abort();

    expect(await settled).toBeInstanceOf(APIUserAbortError);
    await expectReleased(stack, id, abortedAt);
    // One attempt only: the client's leaving is not retried as an upstream failure.
    expect(stack.sim.stats.generate).toBe(1);
  });

  it('serves the next request normally after a client left', async () => {
    const stream = stack.client.messages.stream(params(LONG));
    const settled = stream.finalMessage().catch((e: unknown) => e);
    stream.on('text', () => stream.abort());
    await settled;
    await eventually(() => stack.gateway.lifecycle.inFlight === 0 && stack.gateway.pool.inFlight(id) === 0, 1_000);

    const message = await stack.client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(stack.gateway.lifecycle.inFlight).toBe(0);
    expect(stack.gateway.pool.inFlight(id)).toBe(0);
  });
});
