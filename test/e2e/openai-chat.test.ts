/**
 * Chat Completions through the gateway, driven by the official `openai` SDK against the simulator:
 * text (streaming and not), usage in the last chunk, a tool-call round trip, images, reasoning
 * effort, finish reasons, and what reaches Kiro.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { DEFAULT_TEXT, simScript, type Script } from '../../src/simulator/index.js';
import Anthropic from '@anthropic-ai/sdk';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { parseProm } from '../observability/prom-parse.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { openAiClient, postOpenAi, sseData } from '../helpers/openai.js';
import { lastKiroBody } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const ask = (text: string, script: Script) => `${text} ${simScript(script)}`;

const WEATHER_TOOL: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('Chat Completions through the gateway, driven by the openai SDK', () => {
  let stack: Stack;
  let client: OpenAI;
  const metrics = new GatewayMetrics({ collectDefault: false });
  beforeAll(async () => {
    // With a logger, requests get the request id the SDK reads from x-request-id.
    stack = await startStack({ observability: { logger: createLogger({ level: 'silent', pretty: false }), metrics } });
    client = openAiClient(stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers a non-streaming request with a chat.completion', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(completion.model).toBe(MODEL);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: DEFAULT_TEXT });
    expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    // System and developer messages are the system prompt, which Kiro gets as the first history pair.
    const system = lastKiroBody(stack).conversationState.history[0].userInputMessage.content as string;
    expect(system.startsWith('You are terse.\n\nAnswer in English.')).toBe(true);
    expect(lastKiroBody(stack).conversationState.currentMessage.userInputMessage.content).toBe('Hi');
  });

  it('streams chunks whose deltas add up to the answer, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: ask('Hi', { events: [{ text: 'Hello, ', fragments: 2 }, { text: 'world.' }] }) }],
      stream: true,
    });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id && c.model === MODEL)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world.');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    // Without include_usage: no usage chunk.
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('sends the usage in a last chunk without choices when stream_options.include_usage is set', async () => {
    const res = await postOpenAi(stack, '/v1/chat/completions', {
      model: MODEL,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const usageChunk = data.at(-2);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.prompt_tokens).toBeGreaterThan(0);
    expect(usageChunk.usage.completion_tokens).toBeGreaterThan(0);
    expect(usageChunk.usage.total_tokens).toBe(usageChunk.usage.prompt_tokens + usageChunk.usage.completion_tokens);
    // Every other chunk says usage: null, as OpenAI's API does.
    expect(data.slice(0, -2).every((c: any) => c.usage === null && c.choices.length === 1)).toBe(true);
    expect(data.at(-3).choices[0].finish_reason).toBe('stop');

    // The SDK sees the same usage.
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let last: OpenAI.Chat.ChatCompletionChunk | undefined;
    for await (const chunk of stream) last = chunk;
    expect(last!.choices).toEqual([]);
    expect(last!.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('round-trips a tool call: streamed arguments, the tool result back, then the answer', async () => {
    const question = ask('What is the weather in Paris?', {
      events: [{ text: 'Let me check.' }, { toolUse: { name: 'get_weather', input: { city: 'Paris' }, id: 'tooluse_weather1', fragments: 3 } }],
    });
    const runner = client.chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: question }], tools: [WEATHER_TOOL] });
    const argumentDeltas: string[] = [];
    runner.on('chunk', (chunk) => {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      if (call?.function?.arguments) argumentDeltas.push(call.function.arguments);
    });
    const first = await runner.finalChatCompletion();
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Let me check.');
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call).toMatchObject({ id: 'tooluse_weather1', type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    expect(argumentDeltas.join('')).toBe(call.function.arguments);
    // The tool reached Kiro as a tool specification.
    const spec = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.userInputMessageContext.tools[0].toolSpecification;
    expect(spec).toMatchObject({ name: 'get_weather', description: 'The weather in a city' });

    const second = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'user', content: 'What is the weather in Paris?' },
        choice.message,
        { role: 'tool', tool_call_id: call.id, content: '18 °C and sunny' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(second.choices[0]!.message.content).toBe(DEFAULT_TEXT);
    expect(second.choices[0]!.finish_reason).toBe('stop');
    const body = lastKiroBody(stack).conversationState;
    const assistant = body.history.at(-1).assistantResponseMessage;
    expect(assistant.content).toBe('Let me check.');
    expect(assistant.toolUses).toEqual([{ toolUseId: 'tooluse_weather1', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(body.currentMessage.userInputMessage.userInputMessageContext.toolResults).toEqual([
      { toolUseId: 'tooluse_weather1', content: [{ text: '18 °C and sunny' }], status: 'success' },
    ]);
  });

  it('answers a tool call without streaming: content null, tool_calls, finish_reason tool_calls', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: ask('Weather?', { events: [{ toolUse: { name: 'get_weather', input: { city: 'Oslo' } } }] }) }],
      tools: [WEATHER_TOOL],
      tool_choice: 'required',
    });
    const message = completion.choices[0]!.message;
    expect(message.content).toBeNull();
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    const call = message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call.type).toBe('function');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });
  });

  it('streams two tool calls of one answer as tool_calls indexes 0 and 1', async () => {
    const script: Script = {
      events: [
        { toolUse: { name: 'get_weather', input: { city: 'Paris' }, id: 'tooluse_a' } },
        { toolUse: { name: 'get_weather', input: { city: 'Rome' }, id: 'tooluse_b', fragments: 2 } },
      ],
    };
    const res = await postOpenAi(stack, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: ask('Both?', script) }], tools: [WEATHER_TOOL], stream: true });
    const calls = sseData(res.text)
      .filter((c: any) => c !== '[DONE]' && c.choices[0]?.delta.tool_calls)
      .map((c: any) => c.choices[0].delta.tool_calls[0]);
    expect(calls.map((c: any) => c.index)).toEqual([0, 0, 1, 1]);
    expect(calls[0]).toMatchObject({ id: 'tooluse_a', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls[2]).toMatchObject({ id: 'tooluse_b', type: 'function', function: { name: 'get_weather', arguments: '' } });

    const final = await client.chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: ask('Both?', script) }], tools: [WEATHER_TOOL] }).finalChatCompletion();
    const toolCalls = final.choices[0]!.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
    expect(toolCalls.map((c) => [c.id, JSON.parse(c.function.arguments).city])).toEqual([
      ['tooluse_a', 'Paris'],
      ['tooluse_b', 'Rome'],
    ]);
  });

  it('treats a lone function tool named web_search as an ordinary tool (no MCP web search)', async () => {
    const calls = stack.sim.stats.generate;
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Search the web for kiro' }],
      tools: [{ type: 'function', function: { name: 'web_search', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }],
    });
    expect(completion.choices[0]!.message.content).toBe(DEFAULT_TEXT);
    expect(stack.sim.stats.generate).toBe(calls + 1);
    expect(stack.sim.stats.mcp).toBe(0);
  });

  it("offers no tools with tool_choice 'none'", async () => {
    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER_TOOL], tool_choice: 'none' });
    expect(lastKiroBody(stack).conversationState.currentMessage.userInputMessage.userInputMessageContext?.tools).toBeUndefined();
  });

  it('passes a data-URL image to Kiro in its images field', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}`, detail: 'low' } },
          ],
        },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe(DEFAULT_TEXT);
    const current = lastKiroBody(stack).conversationState.currentMessage.userInputMessage;
    expect(current.images).toEqual([{ format: 'png', source: { bytes: PNG_1PX } }]);
    expect(current.content).toBe('What is this?');
  });

  it('maps reasoning_effort to thinking and streams the reasoning as reasoning_content', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: ask('2+2?', { events: [{ thinking: 'Two plus two is four.' }, { text: 'It is 4.' }] }) }],
      reasoning_effort: 'high',
      stream: true,
    });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? '';
      content += delta?.content ?? '';
    }
    expect(reasoning.trim()).toBe('Two plus two is four.');
    expect(content).toBe('It is 4.');
    const system = lastKiroBody(stack).conversationState.history[0].userInputMessage.content as string;
    expect(system.startsWith('<thinking_mode>enabled</thinking_mode><max_thinking_length>20000</max_thinking_length>')).toBe(true);

    const plain = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: ask('2+2?', { events: [{ thinking: 'Easy.' }, { text: 'It is 4.' }] }) }],
      reasoning_effort: 'low',
    });
    expect((plain.choices[0]!.message as { reasoning_content?: string }).reasoning_content?.trim()).toBe('Easy.');
    expect(plain.choices[0]!.message.content).toBe('It is 4.');
    expect(lastKiroBody(stack).conversationState.history[0].userInputMessage.content).toContain('<max_thinking_length>4096</max_thinking_length>');

    // The reasoning sent back goes to Kiro inline, as thinking blocks do on /v1/messages.
    await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: '2+2?' }, plain.choices[0]!.message, { role: 'user', content: 'And 3+3?' }],
      reasoning_effort: 'low',
    });
    const history = lastKiroBody(stack).conversationState.history;
    expect(history.at(-1).assistantResponseMessage.content).toMatch(/^<thinking>\s*Easy\.\s*<\/thinking>\n\nIt is 4\.$/);

    await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'none' });
    expect(JSON.stringify(lastKiroBody(stack))).not.toContain('<thinking_mode>');
  });

  it("says finish_reason 'length' when Kiro cut the output off", async () => {
    const script: Script = { events: [{ text: 'A long ans' }, { exception: { type: 'ContentLengthExceededException', message: 'too long' } }] };
    const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: ask('Go', script) }], max_completion_tokens: 50 });
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.choices[0]!.message.content).toBe('A long ans');
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: ask('Go', script) }], max_tokens: 50, stream: true });
    let finish: string | null = null;
    for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
    expect(finish).toBe('length');
  });

  it('sets x-kiro-model and a request id the SDK reads', async () => {
    const { data, response, request_id } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe(DEFAULT_TEXT);
    expect(response.headers.get('x-kiro-model')).toBe('claude-sonnet-4.6');
    expect(request_id).toBeTruthy();
  });

  it('labels its requests with their route in the HTTP metrics, and counts tokens as /v1/messages does', async () => {
    const prom = parseProm(await metrics.metricsText());
    expect(prom.sum('kiro_gateway_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '200' })).toBeGreaterThan(5);
    expect(prom.sum('kiro_gateway_output_tokens_total')).toBeGreaterThan(0);
    expect(prom.sum('kiro_gateway_upstream_calls_total', { outcome: 'ok' })).toBeGreaterThan(5);
  });

  describe('GET /v1/models', () => {
    it("answers in OpenAI's list shape when asked the OpenAI way", async () => {
      const page = await client.models.list();
      expect(page.data.length).toBeGreaterThan(5);
      for (const model of page.data) {
        expect(Object.keys(model).sort()).toEqual(['created', 'id', 'object', 'owned_by']);
        expect(model.object).toBe('model');
      }
      expect(page.data.map((m) => m.id)).toContain(MODEL);
      const raw = (await (await fetch(`${stack.url}/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as Record<string, unknown>;
      expect(Object.keys(raw).sort()).toEqual(['data', 'object']);
      expect(await client.models.retrieve(MODEL)).toMatchObject({ id: MODEL, object: 'model', owned_by: 'anthropic' });
      const missing = await client.models.retrieve('gpt-4o').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
      expect((missing as { code?: string }).code).toBe('model_not_found');
    });

    it("keeps Anthropic's shape for the Anthropic SDKs and Claude Code (anthropic-version, or x-api-key)", async () => {
      const anthropic = new Anthropic({ baseURL: stack.url, apiKey: API_KEY, maxRetries: 0, logLevel: 'error' });
      const page = await anthropic.models.list();
      expect(page.data[0]).toMatchObject({ type: 'model', display_name: expect.any(String), created_at: expect.any(String) });
      for (const headers of [
        <Record<string, string>>{ authorization: `Bearer ${API_KEY}`, 'anthropic-version': '2023-06-01' },
        { 'x-api-key': API_KEY },
      ]) {
        const raw = (await (await fetch(`${stack.url}/v1/models`, { headers })).json()) as { data: Array<Record<string, unknown>>; has_more: boolean };
        expect(raw.has_more).toBe(false);
        expect(raw.data[0]).toHaveProperty('type', 'model');
      }
      // A wrong key asked the OpenAI way is told the OpenAI way, the Anthropic way otherwise.
      const openAiWay = await fetch(`${stack.url}/v1/models`, { headers: { authorization: 'Bearer sk-wrong' } });
      expect(openAiWay.status).toBe(401);
      expect(((await openAiWay.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      const anthropicWay = await fetch(`${stack.url}/v1/models`, { headers: { 'x-api-key': 'sk-wrong' } });
      expect(((await anthropicWay.json()) as { type: string }).type).toBe('error');
    });
  });
});
