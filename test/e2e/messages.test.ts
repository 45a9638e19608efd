import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript, DEFAULT_TEXT } from '../../src/simulator/index.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import Anthropic from '@anthropic-ai/sdk';

const MODEL = 'claude-sonnet-4-5-20250929';
const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

describe('the Messages API through the gateway, driven by the Anthropic SDK', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const lastKiroBody = () => {
    const req = [...stack.sim.stats.requests].reverse().find((r) => r.path === '/generateAssistantResponse');
    return req?.body as any;
  };

  it('streams a text answer with every SSE event in order', async () => {
    const stream = stack.client.messages.stream({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'Hi' }] });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const message = await stream.finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.model).toBe(MODEL);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types.at(-2)).toBe('message_delta');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('answers a non-streaming request with one JSON message', async () => {
    const message = await stack.client.messages.create({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(message.type).toBe('message');
    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    expect(message.id).toMatch(/^msg_/);
  });

  it('round-trips a tool call: tool_use with fragmented input, then the tool_result reaches Kiro', async () => {
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    const script = simScript({
      events: [{ text: 'Let me check.' }, { toolUse: { name: 'get_weather', input: { city: 'Paris' }, id: 'tooluse_abc', fragments: 4 } }],
    });
    const first = await stack.client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      tools,
      messages: [{ role: 'user', content: `Weather in Paris? ${script}` }],
    }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const toolUse = first.content.find((b) => b.type === 'tool_use');
    expect(toolUse).toMatchObject({ type: 'tool_use', id: 'tooluse_abc', name: 'get_weather', input: { city: 'Paris' } });

    const second = await stack.client.messages.create({
      model: MODEL,
      max_tokens: 256,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tooluse_abc', content: '18°C, sunny' }] },
      ],
    });
    expect(second.content[0]).toMatchObject({ type: 'text', text: DEFAULT_TEXT });
    const kiro = lastKiroBody();
    const ctx = kiro.conversationState.currentMessage.userInputMessage.userInputMessageContext;
    expect(ctx.toolResults).toEqual([{ toolUseId: 'tooluse_abc', content: [{ text: '18°C, sunny' }], status: 'success' }]);
    const history = kiro.conversationState.history;
    expect(history.at(-1).assistantResponseMessage.toolUses).toEqual([
      { toolUseId: 'tooluse_abc', name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });

  it('returns extended thinking as a thinking block with a signature, then the answer', async () => {
    const script = simScript({ events: [{ thinking: 'Two plus two is four.' }, { text: 'It is 4.' }] });
    const stream = stack.client.messages.stream({
      model: MODEL,
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [{ role: 'user', content: `What is 2+2? ${script}` }],
    });
    const message = await stream.finalMessage();
    expect(message.content[0]).toMatchObject({ type: 'thinking' });
    expect((message.content[0] as any).thinking.trim()).toBe('Two plus two is four.');
    expect((message.content[0] as any).signature).toBeTruthy();
    expect(message.content[1]).toMatchObject({ type: 'text', text: 'It is 4.' });
    const system = lastKiroBody().conversationState.history[0].userInputMessage.content as string;
    expect(system.startsWith('<thinking_mode>enabled</thinking_mode><max_thinking_length>2048</max_thinking_length>')).toBe(true);
  });

  it('passes an image to Kiro in its images field', async () => {
    await stack.client.messages.create({
      model: MODEL,
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } },
            { type: 'text', text: 'What is this?' },
          ],
        },
      ],
    });
    const current = lastKiroBody().conversationState.currentMessage.userInputMessage;
    expect(current.images).toEqual([{ format: 'png', source: { bytes: PNG_1PX } }]);
    expect(current.content).toBe('What is this?');
  });

  it('counts tokens with the local estimate', async () => {
    const result = await stack.client.messages.countTokens({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello there, how are you today?' }],
    });
    expect(result.input_tokens).toBeGreaterThan(0);
  });

  it('lists models', async () => {
    const page = await stack.client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('claude-sonnet-4-5-20250929');
    expect(ids).toContain('claude-opus-4-6');
  });

  it('holds the /cc stream until context usage is known, so message_start carries the real input_tokens', async () => {
    const cc = new Anthropic({ baseURL: `${stack.url}/cc`, apiKey: API_KEY, maxRetries: 0, logLevel: 'error' });
    const script = simScript({ events: [{ text: 'Hello' }, { text: ' world' }, { contextUsage: 1.5 }] });
    const stream = cc.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: `Hi ${script}` }] });
    let startInput = -1;
    stream.on('streamEvent', (e) => {
      if (e.type === 'message_start') startInput = e.message.usage.input_tokens;
    });
    const message = await stream.finalMessage();
    // sonnet 4.5 → 200k window; 1.5 % → 3000 tokens (protocol §13.4)
    expect(startInput).toBe(3000);
    expect(message.usage.input_tokens).toBe(3000);
    expect(message.content).toEqual([{ type: 'text', text: 'Hello world' }]);
  });

  it('answers HEAD / with 200 for Claude Code’s reachability check', async () => {
    const res = await fetch(`${stack.url}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
  });
});
