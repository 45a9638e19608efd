/**
 * Bad input to the OpenAI routes, over real HTTP: malformed JSON, wrong types, deep nesting (also
 * inside the JSON text of tool-call arguments, which the body's depth check cannot see), huge bodies
 * and odd content types all get a 400 (or 413) in OpenAI's error shape, never a 5xx, never an
 * upstream call; and the gateway keeps serving afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, simScript } from '../../src/simulator/index.js';
import { MAX_JSON_DEPTH } from '../../src/http/json-depth.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { isOpenAiErrorShape, openAiClient, postOpenAi } from '../helpers/openai.js';
import { generateCalls } from '../e2e/sse.js';

const MODEL = 'claude-sonnet-4-6';
const BODY_LIMIT = 64 * 1024;
const DEEP = 5_000;
const CHAT = '/v1/chat/completions';
const RESPONSES = '/v1/responses';

type Reply = Awaited<ReturnType<typeof postOpenAi>>;

function expectOpenAiError(res: Reply, status: number, what: string, check: { param?: string; code?: string | null; message?: RegExp } = {}): void {
  expect(res.status, `${what}: ${res.text.slice(0, 300)}`).toBe(status);
  expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
  expect(isOpenAiErrorShape(res.json), `${what}: ${res.text.slice(0, 300)}`).toBe(true);
  if (check.param !== undefined) expect(res.json.error.param, what).toBe(check.param);
  if (check.code !== undefined) expect(res.json.error.code, what).toBe(check.code);
  if (check.message) expect(res.json.error.message, what).toMatch(check.message);
}

/** `levels` nested objects as JSON text: `{"a":{"a":…{}}}`. */
const nestText = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ env: { KIRO_LIMITS_BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
});

afterAll(async () => {
  await stack?.close();
});

describe('the body, on both routes', () => {
  for (const path of [CHAT, RESPONSES]) {
    it(`${path}: malformed, empty, not an object, wrong content-type, too large`, async () => {
      expectOpenAiError(await postOpenAi(stack, path, '{"model": "x", '), 400, 'malformed', { message: /not valid JSON/ });
      expectOpenAiError(await postOpenAi(stack, path, ''), 400, 'empty', { message: /empty/ });
      expectOpenAiError(await postOpenAi(stack, path, '[1, 2]'), 400, 'array', { param: 'body', code: 'invalid_type' });
      expectOpenAiError(await postOpenAi(stack, path, 'null'), 400, 'null', { param: 'body' });
      expectOpenAiError(await postOpenAi(stack, path, '{}', { 'content-type': 'text/plain' }), 400, 'text/plain', { message: /content-type/ });
      expectOpenAiError(await postOpenAi(stack, path, { model: MODEL, input: 'x'.repeat(BODY_LIMIT), messages: [] }), 413, 'too large', { code: 'request_too_large' });
      const chunked = await fetch(`${stack.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            const bytes = new TextEncoder().encode(JSON.stringify({ model: MODEL, input: 'y'.repeat(BODY_LIMIT * 2) }));
            for (let i = 0; i < bytes.length; i += 1024) controller.enqueue(bytes.subarray(i, i + 1024));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      const text = await chunked.text();
      expectOpenAiError({ status: chunked.status, headers: chunked.headers, text, json: JSON.parse(text) }, 413, 'chunked too large');
    });

    it(`${path}: JSON nested ${DEEP} levels deep anywhere in the body`, async () => {
      const message = path === CHAT ? `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}]` : `{"model":"${MODEL}","input":"hi"`;
      for (const stream of ['', ',"stream":true']) {
        const res = await postOpenAi(stack, path, `${message}${stream},"metadata":${nestText(DEEP)}}`);
        expectOpenAiError(res, 400, `deep metadata ${stream}`, { message: new RegExp(String(MAX_JSON_DEPTH)) });
        const tools = path === CHAT ? `[{"type":"function","function":{"name":"t","parameters":${nestText(DEEP)}}}]` : `[{"type":"function","name":"t","parameters":${nestText(DEEP)}}]`;
        expectOpenAiError(await postOpenAi(stack, path, `${message}${stream},"tools":${tools}}`), 400, `deep tool parameters ${stream}`);
      }
    });
  }
});

describe('tool-call arguments nested deep inside their JSON text (the body itself is shallow)', () => {
  const deepArguments = nestText(DEEP);
  it('chat: messages[].tool_calls[].function.arguments', async () => {
    const res = await postOpenAi(stack, CHAT, {
      model: MODEL,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'probe', arguments: deepArguments } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
      ],
    });
    expectOpenAiError(res, 400, 'deep arguments', { param: 'messages[1].tool_calls[0].function.arguments', message: /levels deep/ });
  });

  it('responses: input[].arguments of a function_call', async () => {
    const res = await postOpenAi(stack, RESPONSES, {
      model: MODEL,
      input: [
        { role: 'user', content: 'hi' },
        { type: 'function_call', call_id: 'call_1', name: 'probe', arguments: deepArguments },
        { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
      ],
    });
    expectOpenAiError(res, 400, 'deep arguments', { param: 'input[1].arguments', message: /levels deep/ });
  });
});

describe('wrong types and values: a 400 naming the field, the OpenAI way', () => {
  const chat = (extra: Record<string, unknown>) => ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra });
  const responses = (extra: Record<string, unknown>) => ({ model: MODEL, input: 'hi', ...extra });
  const cases: Array<[string, string, unknown, string, string]> = [
    ['model missing', CHAT, { messages: [{ role: 'user', content: 'hi' }] }, 'model', 'missing_required_parameter'],
    ['model a number', CHAT, chat({ model: 42 }), 'model', 'invalid_type'],
    ['messages an object', CHAT, chat({ messages: { role: 'user' } }), 'messages', 'invalid_type'],
    ['messages empty', CHAT, chat({ messages: [] }), 'messages', 'invalid_value'],
    ['only a system message', CHAT, chat({ messages: [{ role: 'system', content: 'x' }] }), 'messages', 'invalid_value'],
    ['a message a string', CHAT, chat({ messages: ['hi'] }), 'messages[0]', 'invalid_type'],
    ['an unknown role', CHAT, chat({ messages: [{ role: 'robot', content: 'hi' }] }), 'messages[0].role', 'invalid_value'],
    ['content a number', CHAT, chat({ messages: [{ role: 'user', content: 7 }] }), 'messages[0].content', 'invalid_type'],
    ['an unknown part', CHAT, chat({ messages: [{ role: 'user', content: [{ type: 'hologram' }] }] }), 'messages[0].content[0].type', 'invalid_value'],
    ['an audio part', CHAT, chat({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }), 'messages[0].content[0].type', 'unsupported_parameter'],
    ['an image URL not a string', CHAT, chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 5 } }] }] }), 'messages[0].content[0].image_url.url', 'invalid_type'],
    ['an image data URL not base64', CHAT, chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png,abc' } }] }] }), 'messages[0].content[0].image_url.url', 'invalid_value'],
    ['an image of an unknown type', CHAT, chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }] }] }), 'messages[0].content[0].image_url.url', 'unsupported_value'],
    ['tool arguments not JSON', CHAT, chat({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{nope' } }] }] }), 'messages[1].tool_calls[0].function.arguments', 'invalid_value'],
    ['a tool message without tool_call_id', CHAT, chat({ messages: [{ role: 'user', content: 'hi' }, { role: 'tool', content: 'x' }] }), 'messages[1].tool_call_id', 'missing_required_parameter'],
    ['reasoning_content a number', CHAT, chat({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'x', reasoning_content: 5 }] }), 'messages[1].reasoning_content', 'invalid_type'],
    ['max_tokens a string', CHAT, chat({ max_tokens: '64' }), 'max_tokens', 'invalid_type'],
    ['max_completion_tokens zero', CHAT, chat({ max_completion_tokens: 0 }), 'max_completion_tokens', 'invalid_value'],
    ['stream a string', CHAT, chat({ stream: 'yes' }), 'stream', 'invalid_type'],
    ['include_usage a string', CHAT, chat({ stream: true, stream_options: { include_usage: 'yes' } }), 'stream_options.include_usage', 'invalid_type'],
    ['tools an object', CHAT, chat({ tools: { type: 'function' } }), 'tools', 'invalid_type'],
    ['a tool without a name', CHAT, chat({ tools: [{ type: 'function', function: { parameters: {} } }] }), 'tools[0].function.name', 'missing_required_parameter'],
    ['a hosted tool', CHAT, chat({ tools: [{ type: 'custom', custom: { name: 'x' } }] }), 'tools[0].type', 'unsupported_parameter'],
    ['an unknown tool_choice', CHAT, chat({ tool_choice: 'always' }), 'tool_choice', 'invalid_value'],
    ['a named tool_choice without a name', CHAT, chat({ tool_choice: { type: 'function', function: {} } }), 'tool_choice.function.name', 'missing_required_parameter'],
    ['a tool_choice of another type', CHAT, chat({ tool_choice: { type: 'allowed_tools' } }), 'tool_choice.type', 'unsupported_parameter'],
    ['an unknown reasoning_effort', CHAT, chat({ reasoning_effort: 'extreme' }), 'reasoning_effort', 'invalid_value'],
    ['n = 2', CHAT, chat({ n: 2 }), 'n', 'unsupported_value'],
    ['logprobs', CHAT, chat({ logprobs: true }), 'logprobs', 'unsupported_value'],
    ['json_schema output', CHAT, chat({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }), 'response_format.type', 'unsupported_value'],
    ['the deprecated functions', CHAT, chat({ functions: [{ name: 'f' }] }), 'functions', 'unsupported_parameter'],
    ['temperature a string', CHAT, chat({ temperature: 'hot' }), 'temperature', 'invalid_type'],
    ['stop a number', CHAT, chat({ stop: 5 }), 'stop', 'invalid_type'],
    ['input missing', RESPONSES, { model: MODEL }, 'input', 'missing_required_parameter'],
    ['input a number', RESPONSES, responses({ input: 5 }), 'input', 'invalid_type'],
    ['input empty', RESPONSES, responses({ input: [] }), 'input', 'invalid_value'],
    ['an item without content', RESPONSES, responses({ input: [{ role: 'user' }] }), 'input[0].content', 'missing_required_parameter'],
    ['an unknown item type', RESPONSES, responses({ input: [{ type: 'computer_call' }] }), 'input[0].type', 'unsupported_parameter'],
    ['an item reference', RESPONSES, responses({ input: [{ type: 'item_reference', id: 'msg_1' }] }), 'input[0].type', 'unsupported_parameter'],
    ['a function_call without call_id', RESPONSES, responses({ input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }), 'input[0].call_id', 'missing_required_parameter'],
    ['an input_file part', RESPONSES, responses({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }), 'input[0].content[0].type', 'unsupported_parameter'],
    ['a file_id image', RESPONSES, responses({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] }), 'input[0].content[0].file_id', 'unsupported_parameter'],
    ['a web_search tool', RESPONSES, responses({ tools: [{ type: 'web_search' }] }), 'tools[0].type', 'unsupported_parameter'],
    ['a named tool_choice without a name', RESPONSES, responses({ tool_choice: { type: 'function' } }), 'tool_choice.name', 'missing_required_parameter'],
    ['a reasoning item with a bad summary', RESPONSES, responses({ input: [{ type: 'reasoning', summary: 'x' }] }), 'input[0].summary', 'invalid_type'],
    ['conversation', RESPONSES, responses({ conversation: 'conv_1' }), 'conversation', 'unsupported_parameter'],
    ['background', RESPONSES, responses({ background: true }), 'background', 'unsupported_value'],
    ['json text format', RESPONSES, responses({ text: { format: { type: 'json_object' } } }), 'text.format.type', 'unsupported_value'],
    ['max_output_tokens negative', RESPONSES, responses({ max_output_tokens: -1 }), 'max_output_tokens', 'invalid_value'],
    ['reasoning a string', RESPONSES, responses({ reasoning: 'high' }), 'reasoning', 'invalid_type'],
  ];
  for (const [what, path, body, param, code] of cases) {
    it(`${path}: ${what}`, async () => {
      expectOpenAiError(await postOpenAi(stack, path, body), 400, what, { param, code });
    });
  }
});

it('never reached the upstream for bad input, and still serves afterwards', async () => {
  const before = generateCalls(stack).length;
  const bad = await Promise.all([
    postOpenAi(stack, CHAT, '{{{'),
    postOpenAi(stack, RESPONSES, { model: MODEL, input: [] }),
    postOpenAi(stack, CHAT, { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    postOpenAi(stack, RESPONSES, { model: MODEL, input: 'hi' }, { authorization: 'Bearer nope' }),
    postOpenAi(stack, CHAT, { model: MODEL, messages: [{ role: 'user', content: 'z'.repeat(BODY_LIMIT * 2) }] }),
  ]);
  expect(bad.map((r) => r.status)).toEqual([400, 400, 404, 401, 413]);
  expect(bad.every((r) => isOpenAiErrorShape(r.json))).toBe(true);
  expect(generateCalls(stack).length).toBe(before);
  expect(stack.sim.stats.rejected).toBe(0);

  const client = openAiClient(stack);
  const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Still there?' }] });
  expect(completion.choices[0]!.message.content).toBe(DEFAULT_TEXT);
  const response = await client.responses.create({ model: MODEL, input: `Still there? ${simScript({ events: [{ text: 'Yes.' }] })}` });
  expect(response.output_text).toBe('Yes.');
});
