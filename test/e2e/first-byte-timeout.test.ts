/**
 * Silence before Kiro answers: an upstream call that sends no event frame within
 * `upstream.firstByteTimeoutMs` (connect, response head and first frame) is given up and retried
 * like a dropped connection — on the same or another credential, since the client has seen nothing
 * yet — instead of holding the client for the 720 s overall timeout on every try. The timeout covers
 * only the first frame: a slow stream after it is the idle timeout's business.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { APIError } from '@anthropic-ai/sdk';
import { simScript, type Script } from '../../src/simulator/index.js';
import { eventually, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { generateCalls } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const A = refreshTokenFor('ttfb-a');
const B = refreshTokenFor('ttfb-b');
const TTFB_MS = 400;
/** Only the first-byte timeout can end these waits: the idle and overall timeouts are far away. */
const ENV = { KIRO_UPSTREAM_FIRST_BYTE_TIMEOUT_MS: String(TTFB_MS), KIRO_UPSTREAM_IDLE_TIMEOUT_MS: '60000' };

const params = (script: Script) => ({
  model: MODEL,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: `Hello ${simScript(script)}` }],
});

describe('upstream time-to-first-byte timeout', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('gives up an upstream whose response head is late, retries, then answers 502 naming the timeout', async () => {
    stack = await startStack({ credentials: [{ refreshToken: A, authMethod: 'social' }], env: ENV });

    // Without the timeout this would succeed after 3 s; with it, each try is abandoned at 400 ms.
    const res = await post(`${stack.url}/v1/messages`, params({ events: [{ text: 'late' }], firstByteLatencyMs: 3_000 }));

    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(res.json.error.message).toMatch(/firstByteTimeoutMs/);
    // Counted on arrival: the simulator never got to answer (or record) these calls.
    expect(stack.sim.stats.generate).toBe(3);
  });

  it('gives up an upstream that sent its head but no frame (stall before the first frame)', async () => {
    stack = await startStack({ credentials: [{ refreshToken: A, authMethod: 'social' }], env: ENV });

    const err = await stack.client.messages
      .create({ ...params({ events: [{ text: 'never' }], fault: { kind: 'stall', afterFrames: 0 } }), stream: true })
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    // Nothing reached the client: the failure is an HTTP status, not an SSE event.
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(502);
    expect((err as APIError).message).toMatch(/firstByteTimeoutMs/);
    expect(generateCalls(stack).length).toBe(3);
    // Each abandoned attempt closed its upstream connection.
    await eventually(() => stack!.sim.stats.streamsInFlight === 0);
  });

  it('moves on to the next credential when one keeps timing out', async () => {
    stack = await startStack({
      credentials: [
        { refreshToken: A, authMethod: 'social', priority: 0 },
        { refreshToken: B, authMethod: 'social', priority: 1 },
      ],
      env: ENV,
    });

    const res = await post(`${stack.url}/v1/messages`, params({ events: [{ text: 'never' }], fault: { kind: 'stall', afterFrames: 0 } }));

    expect(res.status).toBe(502);
    expect(new Set(generateCalls(stack).map((c) => c.account))).toEqual(new Set([A, B]));
  });

  it('does not limit a stream once its first frame arrived, however slow the rest is', async () => {
    stack = await startStack({ credentials: [{ refreshToken: A, authMethod: 'social' }], env: ENV });

    const message = await stack.client.messages.create(
      params({ events: [{ text: 'slow ' }, { text: 'but ' }, { text: 'complete' }], chunkDelayMs: TTFB_MS * 2, firstByteLatencyMs: TTFB_MS / 4 }),
    );

    expect(message.content).toEqual([{ type: 'text', text: 'slow but complete' }]);
    expect(generateCalls(stack).length).toBe(1);
  });
});
