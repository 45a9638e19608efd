import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/anthropic/types.js';
import type { KiroEvent } from '../../src/kiro/types.js';
import { collectMessage, MessageAccumulator } from '../../src/convert/message.js';
import { encodeSseEvents } from '../../src/convert/sse.js';
import { KiroToAnthropicStream } from '../../src/convert/stream.js';
import { SYNTHETIC_THINKING_SIGNATURE } from '../../src/convert/content-blocks.js';
import { webSearchEvents } from '../../src/convert/web-search.js';

const MODEL = 'claude-sonnet-4-5-20250929';

/** The converter's output for a whole response, one batch per call, as the route writes it. */
function convertBatches(events: KiroEvent[], opts: { thinking?: boolean; toolNameMap?: Map<string, string> } = {}): StreamEvent[][] {
  const c = new KiroToAnthropicStream({
    model: MODEL,
    messageId: 'msg_test',
    thinking: opts.thinking ?? false,
    inputTokensEstimate: 321,
    windowSize: 200_000,
    toolNameMap: opts.toolNameMap ?? new Map(),
  });
  return [c.start(), ...events.map((e) => c.push(e)), c.finish()];
}

/**
 * The oracle: the official SDK's own accumulator (`MessageStream`, via `client.messages.stream`)
 * reading our SSE bytes, delivered in small chunks that split events and UTF-8 sequences.
 */
async function sdkFinalMessage(batches: StreamEvent[][], chunkSize = 7): Promise<unknown> {
  const bytes = new TextEncoder().encode(batches.map((b) => encodeSseEvents(b)).join(''));
  const client = new Anthropic({
    apiKey: 'test-key',
    maxRetries: 0,
    fetch: async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += chunkSize) controller.enqueue(bytes.slice(i, i + chunkSize));
            controller.close();
          },
        }),
        { status: 200, headers: { 'content-type': 'text/event-stream' } },
      ),
  });
  const final = await client.messages
    .stream({ model: 'claude-opus-4-6', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] })
    .finalMessage();
  // `parsed_output` is the SDK's structured-output helper, not part of the wire message.
  const { parsed_output: _parsed, ...message } = final as typeof final & { parsed_output?: unknown };
  return message;
}

const text = (content: string): KiroEvent => ({ kind: 'text', content });
const tool = (toolUseId: string, name: string, input: string, stop = false): KiroEvent => ({
  kind: 'toolUse',
  toolUseId,
  name,
  input,
  stop,
});

const SCENARIOS: Array<{ name: string; batches: () => StreamEvent[][] }> = [
  {
    name: 'a simple text reply (§13.4)',
    batches: () => convertBatches([text('Hello'), text(' world'), { kind: 'contextUsage', percentage: 1.5 }]),
  },
  {
    name: 'thinking followed by an answer with non-ASCII text',
    batches: () =>
      convertBatches([text('<thinking>\nLet me th'), text('ink 🤔.\n</thinking>\n\n答案: '), text('42 ✅')], { thinking: true }),
  },
  {
    name: 'text, a fragmented tool call with a mapped name, then more text',
    batches: () =>
      convertBatches(
        [
          text('I will write it.'),
          tool('tooluse_abc', 'w_short', '{"file_path":"/tmp/x",'),
          tool('tooluse_abc', 'w_short', '"content":"a\\nb \\"q\\" 中"}'),
          tool('tooluse_abc', 'w_short', '', true),
          tool('tooluse_def', 'Read', '{"file_path":"/y"}', true),
          text('Done.'),
          { kind: 'contextUsage', percentage: 42.42 },
        ],
        { toolNameMap: new Map([['w_short', 'Write']]) },
      ),
  },
  {
    name: 'a tool call cut off by the upstream output limit',
    batches: () => convertBatches([text('Writing.'), tool('t1', 'Write', '{"file_path":"/a","content":"aaa')]),
  },
  {
    name: 'thinking-only output',
    batches: () => convertBatches([text('<thinking>\nnever finished')], { thinking: true }),
  },
  {
    name: 'a synthesized web search answer',
    batches: () => [
      webSearchEvents({
        model: MODEL,
        query: 'rust async traits',
        inputTokens: 99,
        results: [
          { title: 'Async traits', url: 'https://example.com/a', snippet: 'x'.repeat(250), publishedDate: 1735776000000 },
          { title: 'More', url: 'https://example.com/b', snippet: null, publishedDate: null },
        ],
      }),
    ],
  },
];

describe('collectMessage', () => {
  for (const scenario of SCENARIOS) {
    it(`equals what the official SDK accumulates from the SSE stream for ${scenario.name}`, async () => {
      const batches = scenario.batches();
      const collected = collectMessage(batches.flat());
      if ('error' in collected) throw new Error(collected.error.message);
      expect(await sdkFinalMessage(batches)).toEqual(collected.message);
    });
  }

  it('builds the §7.6 JSON: blocks in order, text per block, tool input parsed, signature, usage and stop reason', () => {
    const batches = convertBatches(
      [
        text('<thinking>\nhm\n</thinking>\n\nOK'),
        tool('t1', 'Read', '{"file_path":', false),
        tool('t1', 'Read', '"/a"}', true),
        { kind: 'contextUsage', percentage: 10 },
      ],
      { thinking: true },
    );
    const collected = collectMessage(batches.flat());
    expect(collected).toEqual({
      message: {
        id: 'msg_test',
        type: 'message',
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'hm\n', signature: SYNTHETIC_THINKING_SIGNATURE },
          { type: 'text', text: 'OK' },
          { type: 'tool_use', id: 't1', name: 'Read', input: { file_path: '/a' } },
        ],
        model: MODEL,
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: 20_000, output_tokens: expect.any(Number) },
      },
    });
  });

  it('returns the error instead of a message when the events contain an error event', async () => {
    const c = new KiroToAnthropicStream({
      model: MODEL,
      thinking: false,
      inputTokensEstimate: 1,
      windowSize: 200_000,
      toolNameMap: new Map(),
    });
    const batches = [
      c.start(),
      c.push(text('partial')),
      c.push({ kind: 'exception', exceptionType: 'ThrottlingException', message: 'Too many requests' }),
    ];
    const collected = collectMessage(batches.flat());
    expect(collected).toEqual({
      error: { type: 'overloaded_error', message: 'Upstream ThrottlingException: Too many requests' },
    });
    // The SDK turns the same SSE error event into an APIError of that type.
    const err = await sdkFinalMessage(batches).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).type).toBe('overloaded_error');
  });

  it('returns an api_error when the events never started a message', () => {
    expect(collectMessage([])).toEqual({ error: { type: 'api_error', message: expect.any(String) } });
  });

  it('ignores pings', () => {
    const events = convertBatches([text('a')]).flat();
    const withPings: StreamEvent[] = events.flatMap((e) => [{ type: 'ping' }, e]);
    expect(collectMessage(withPings)).toEqual(collectMessage(events));
  });

  it('gives the same result when fed incrementally through MessageAccumulator', () => {
    const batches = convertBatches([text('a'), tool('t', 'Read', '{}', true), text('b')]);
    const acc = new MessageAccumulator();
    for (const b of batches) acc.addAll(b);
    expect(acc.result()).toEqual(collectMessage(batches.flat()));
  });
});
