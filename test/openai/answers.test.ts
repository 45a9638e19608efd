/**
 * The OpenAI encoders fed with the Anthropic events the converter produces (from Kiro events): the
 * hand-built chunk JSON parses to exactly the objects OpenAI's API sends, whatever the text holds;
 * a failure yields its error record and nothing that looks complete; the error table maps every
 * gateway error.
 */
import { describe, expect, it } from 'vitest';
import { KiroToAnthropicStream } from '../../src/convert/stream.js';
import type { KiroEvent } from '../../src/kiro/types.js';
import type { StreamEvent } from '../../src/anthropic/types.js';
import { ChatChunkEncoder } from '../../src/openai/chat-answer.js';
import { ResponsesEventEncoder } from '../../src/openai/responses-answer.js';
import type { ResponseEcho } from '../../src/openai/responses-request.js';
import { toOpenAiError } from '../../src/openai/errors.js';
import { ERROR_CLASSES, errorOfType, STATUSES_BY_TYPE, type ErrorType } from '../../src/errors.js';
import { parseSse } from '../e2e/sse.js';
import { sseData } from '../helpers/openai.js';

const MODEL = 'claude-"quoted"-model ✓';
const NASTY = 'line\nbreak "quotes" \\ back\u2028sep \u0000 nul ✓ 𝄞';

/** Anthropic events for Kiro events, as the pipeline produces them (start, each event, finish). */
function anthropicEvents(kiro: KiroEvent[], failure?: { type: ErrorType; message: string }): StreamEvent[][] {
  const converter = new KiroToAnthropicStream({ model: MODEL, thinking: true, inputTokensEstimate: 10, windowSize: 200_000, toolNameMap: new Map() });
  const batches: StreamEvent[][] = [converter.start()];
  for (const event of kiro) batches.push(converter.push(event));
  batches.push(failure ? converter.finish({ error: failure }) : converter.finish());
  return batches;
}

const text = (content: string): KiroEvent => ({ kind: 'text', content });
const tool = (toolUseId: string, input: string): KiroEvent => ({ kind: 'toolUse', toolUseId, name: 'probe', input, stop: true });

const ECHO: ResponseEcho = {
  model: MODEL,
  instructions: null,
  max_output_tokens: null,
  temperature: null,
  top_p: null,
  tools: [],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  reasoning: { effort: null, summary: null },
  metadata: {},
};

describe('Chat Completions chunks', () => {
  it('hand-built chunks are the JSON OpenAI sends, whatever the text and model name hold', () => {
    const encoder = new ChatChunkEncoder(true);
    const out = anthropicEvents([{ kind: 'text', content: `<thinking>${NASTY}</thinking>\n\n` }, text(NASTY), tool('t1', '{"a":"\\"x\\""}')]).map((b) => encoder.encode(b)).join('');
    const data = sseData(out);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1);
    for (const c of chunks) expect(Object.keys(c)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    expect(chunks.every((c: any) => c.model === MODEL && c.object === 'chat.completion.chunk')).toBe(true);
    const deltas = chunks.filter((c: any) => c.choices.length === 1).map((c: any) => c.choices[0].delta);
    expect(deltas.map((d: any) => d.content ?? '').join('')).toBe(NASTY);
    expect(deltas.map((d: any) => d.reasoning_content ?? '').join('').trim()).toBe(NASTY.trim());
    const calls = deltas.filter((d: any) => d.tool_calls).map((d: any) => d.tool_calls[0]);
    expect(calls).toEqual([
      { index: 0, id: 't1', type: 'function', function: { name: 'probe', arguments: '' } },
      { index: 0, function: { arguments: '{"a":"\\"x\\""}' } },
    ]);
    const finish = chunks.at(-2);
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' });
    expect(finish.usage).toBeNull();
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 10, completion_tokens: expect.any(Number), total_tokens: expect.any(Number) } });
  });

  it('a failure after the start ends with the error record: no finish_reason, no usage, no [DONE]', () => {
    const encoder = new ChatChunkEncoder(true);
    const out = anthropicEvents([text('Part')], { type: 'api_error', message: 'Upstream connection failed mid-stream' }).map((b) => encoder.encode(b)).join('');
    const data = sseData(out);
    expect(data).not.toContain('[DONE]');
    expect(data.at(-1)).toEqual({ error: { message: 'Upstream connection failed mid-stream', type: 'server_error', param: null, code: 'upstream_error' } });
    expect(data.slice(0, -1).every((c: any) => c.choices[0].finish_reason === null)).toBe(true);
  });
});

describe('Responses events', () => {
  it('every record is a well-formed event whose name is its type, numbered from 0', () => {
    const encoder = new ResponsesEventEncoder(ECHO);
    const out = anthropicEvents([text(NASTY), tool('t1', '{}')]).map((b) => encoder.encode(b)).join('');
    const records = parseSse(out);
    expect(records.map((r) => r.json.sequence_number)).toEqual(records.map((_, i) => i));
    expect(records.every((r) => r.event === r.json.type)).toBe(true);
    const completed = records.at(-1)!.json.response;
    expect(completed).toMatchObject({ status: 'completed', model: MODEL, output: [{ type: 'message', content: [{ text: NASTY }] }, { type: 'function_call', call_id: 't1', arguments: '{}' }] });
  });

  it('a failure before anything was sent still ends with response.failed', () => {
    const encoder = new ResponsesEventEncoder(ECHO);
    const records = parseSse(encoder.encode([{ type: 'error', error: { type: 'overloaded_error', message: 'shutting down' } }]));
    expect(records.map((r) => r.event)).toEqual(['response.failed']);
    expect(records[0]!.json.response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: 'shutting down' }, output: [] });
  });
});

describe('the OpenAI error table', () => {
  it('tells every gateway error type and status in the OpenAI shape, 529 as 503', () => {
    for (const [type, statuses] of Object.entries(STATUSES_BY_TYPE) as Array<[ErrorType, readonly number[]]>) {
      for (const status of statuses) {
        const { status: told, body } = toOpenAiError(errorOfType(type, 'x', { status }));
        expect(told).toBe(status === 529 ? 503 : status);
        expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      }
    }
    expect(ERROR_CLASSES.length).toBe(Object.keys(STATUSES_BY_TYPE).length);
    expect(toOpenAiError(new Error('secret detail')).body.error).toEqual({ message: 'Internal server error', type: 'server_error', param: null, code: null });
  });
});
