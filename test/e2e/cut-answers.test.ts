/**
 * Answers that look complete but are not: every upstream anomaly that loses part of the answer — a
 * frame with a bad prelude or message CRC, an event whose payload cannot be read, a body cut
 * mid-frame — must reach the client as a failure, never as a normal success with text missing.
 * Before the first byte to the client the attempt is retried and then fails with an HTTP error;
 * after it, the stream ends with an SSE `error` event and no `message_stop` (the real SDK raises);
 * a non-streaming request gets 502 api_error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from '@anthropic-ai/sdk';
import { simScript, type Script } from '../../src/simulator/index.js';
import { post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { generateCalls, rawStream } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const A = refreshTokenFor('cut-answers-a');

const params = (content: string) => ({ model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content }] });
const ask = (script: Script) => `Hello ${simScript(script)}`;

/** The anomalies, each placed after the first text frame ('one ') of a three-part answer. */
const ANOMALIES: Array<[string, Script]> = [
  ['a frame with a bad message CRC', { events: [{ text: 'one ' }, { text: 'two ' }, { text: 'three' }], fault: { kind: 'bad-message-crc', afterFrames: 1 } }],
  ['a frame with a bad prelude CRC', { events: [{ text: 'one ' }, { text: 'two ' }, { text: 'three' }], fault: { kind: 'bad-prelude-crc', afterFrames: 1 } }],
  [
    'a text event whose payload is not a JSON object',
    { events: [{ text: 'one ' }, { event: { type: 'assistantResponseEvent', payload: 'two ' } }, { text: 'three' }] },
  ],
  [
    'a tool call event without its toolUseId',
    { events: [{ text: 'one ' }, { event: { type: 'toolUseEvent', payload: { name: 'Read', input: '{"file_path":"/a"}', stop: true } } }, { text: 'three' }] },
  ],
  ['a body cut mid-frame (connection reset)', { events: [{ text: 'one ' }, { text: 'two ' }, { text: 'three' }], usage: false, fault: { kind: 'cut', afterFrames: 1 } }],
  [
    'a body that ends cleanly in the middle of a frame',
    { events: [{ text: 'one ' }, { text: 'two ' }, { text: 'three' }], usage: false, fault: { kind: 'cut', afterFrames: 1, mode: 'end' } },
  ],
];

describe('a cut or corrupt answer never looks complete', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ credentials: [{ refreshToken: A, authMethod: 'social' }] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  for (const [name, script] of ANOMALIES) {
    describe(`after the first text: ${name}`, () => {
      it('makes the streaming SDK raise an api_error after the text that really arrived', async () => {
        const stream = stack.client.messages.stream(params(ask(script)));
        let text = '';
        stream.on('text', (delta) => {
          text += delta;
        });
        const error = await stream.finalMessage().then(
          () => undefined,
          (e: unknown) => e,
        );

        expect(error).toBeInstanceOf(APIError);
        expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
        expect(text).toBe('one ');
      });

      it('ends the SSE body with one error event and no message_stop or message_delta', async () => {
        const { status, records } = await rawStream(stack, params(ask(script)));

        expect(status).toBe(200);
        expect(records.at(-1)!.event).toBe('error');
        expect(records.at(-1)!.json.error).toMatchObject({ type: 'api_error', message: expect.any(String) });
        expect(records.filter((r) => r.event === 'error')).toHaveLength(1);
        expect(records.some((r) => r.event === 'message_stop' || r.event === 'message_delta')).toBe(false);
      });

      it('shows only the error on the buffered /cc/v1 stream', async () => {
        const { status, records } = await rawStream(stack, params(ask(script)), '/cc/v1/messages');

        expect(status).toBe(200);
        expect(records.map((r) => r.event).filter((e) => e !== 'ping')).toEqual(['error']);
      });

      it('answers a non-streaming request with 502 api_error', async () => {
        const res = await post(`${stack.url}/v1/messages`, params(ask(script)));

        expect(res.status).toBe(502);
        expect(res.json).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
      });
    });
  }

  const FIRST_FRAME: Array<[string, Script]> = [
    ['a bad message CRC', { events: [{ text: 'one' }], fault: { kind: 'bad-message-crc', afterFrames: 0 } }],
    ['a bad prelude CRC', { events: [{ text: 'one' }], fault: { kind: 'bad-prelude-crc', afterFrames: 0 } }],
    ['an unreadable text event', { events: [{ event: { type: 'assistantResponseEvent', payload: [1, 2] } }, { text: 'one' }] }],
    ['a cut mid-frame', { events: [{ text: 'one' }], usage: false, fault: { kind: 'cut', afterFrames: 0 } }],
  ];

  for (const [name, script] of FIRST_FRAME) {
    it(`retries an upstream whose first frame has ${name}, then fails with an HTTP 502 before any SSE byte`, async () => {
      const before = generateCalls(stack).length;
      const res = await fetch(`${stack.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': stack.client.apiKey!, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ ...params(ask(script)), stream: true }),
      });
      const body = (await res.json()) as { type: string; error: { type: string } };

      expect(res.status).toBe(502);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(body).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      // Every try of the one credential saw the same broken first frame.
      expect(generateCalls(stack).length - before).toBe(3);
    });
  }

  it('still completes a clean answer with all its text', async () => {
    const message = await stack.client.messages.create(params(ask({ events: [{ text: 'one ' }, { text: 'two ' }, { text: 'three' }] })));
    expect(message.content).toEqual([{ type: 'text', text: 'one two three' }]);
    expect(message.stop_reason).toBe('end_turn');
  });
});
