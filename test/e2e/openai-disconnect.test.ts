/**
 * An OpenAI client that goes away mid-request: as on /v1/messages, the gateway aborts the upstream
 * stream at the simulator promptly and gives back everything the request held (lifecycle slot, the
 * credential's concurrency slot), without blaming the credential.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { simScript } from '../../src/simulator/index.js';
import { eventually, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { openAiClient } from '../helpers/openai.js';
import { expectReleased, LONG } from './disconnects.js';
import { credentialId } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const prompt = `Tell me a long story ${simScript(LONG)}`;

describe('OpenAI clients that disconnect', () => {
  let stack: Stack;
  let client: OpenAI;
  let id: number;
  beforeEach(async () => {
    stack = await startStack();
    client = openAiClient(stack);
    id = credentialId(stack, refreshTokenFor('default'));
  });
  afterEach(async () => {
    await stack?.close();
  });

  it('chat: the SDK aborts a stream after the first delta', async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: prompt }], stream: true });
    let abortedAt = 0;
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text.length > 0) {
        abortedAt = Date.now();
        stream.controller.abort();
      }
    }
    expect(text.startsWith('word0 ')).toBe(true);
    await expectReleased(stack, id, abortedAt);
  });

  it('responses: the streaming helper is aborted after the first text delta', async () => {
    const stream = client.responses.stream({ model: MODEL, input: prompt });
    let abortedAt = 0;
    stream.on('response.output_text.delta', () => {
      if (abortedAt === 0) {
        abortedAt = Date.now();
        stream.abort();
      }
    });
    const settled = await stream.finalResponse().catch((e: unknown) => e);
    expect(settled).toBeInstanceOf(OpenAI.APIUserAbortError);
    await expectReleased(stack, id, abortedAt);
  });

  it('chat: a non-streaming client leaves mid-answer', async () => {
    const controller = new AbortController();
    const settled = client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: prompt }] }, { signal: controller.signal }).catch((e: unknown) => e);
    await eventually(() => stack.sim.stats.streamsInFlight === 1);
    await new Promise((r) => setTimeout(r, 100));
    const abortedAt = Date.now();
    controller.abort();
    expect(await settled).toBeInstanceOf(OpenAI.APIUserAbortError);
    await expectReleased(stack, id, abortedAt);
  });
});
