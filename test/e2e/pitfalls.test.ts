/**
 * The upstream pitfalls of docs/kiro-protocol.md §12 reproduced through the simulator, which answers
 * a malformed Kiro body with 400 "Improperly formed request" exactly as Kiro does (§12.2). Each
 * request goes through the real SDK and must be accepted upstream as is.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { DEFAULT_TEXT, simScript, type Script } from '../../src/simulator/index.js';
import { post, startStack, type Stack } from '../helpers/stack.js';
import { generateCalls, lastKiroBody, rawStream } from './sse.js';

const MODEL = 'claude-sonnet-4-6';

const readTool: Tool = {
  name: 'Read',
  description: 'Reads a file',
  input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] },
};
const writeTool: Tool = {
  name: 'Write',
  description: 'Writes a file',
  input_schema: {
    type: 'object',
    properties: { file_path: { type: 'string' }, content: { type: 'string' } },
    required: ['file_path', 'content'],
  },
};

describe('§12.2 malformed-request pitfalls never reach Kiro', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });
  afterEach(() => {
    // The simulator says why it would have rejected a body; show that instead of a bare count.
    const rejected = generateCalls(stack).filter((r) => r.status === 400);
    expect(rejected.map((r) => r.rejection)).toEqual([]);
    expect(stack.sim.stats.rejected).toBe(0);
  });

  async function send(messages: MessageParam[], tools?: Tool[] | unknown[]) {
    const message = await stack.client.messages.create({
      model: MODEL,
      max_tokens: 256,
      messages,
      ...(tools ? { tools: tools as Tool[] } : {}),
    });
    expect(generateCalls(stack).at(-1)!.status).toBe(200);
    return message;
  }

  it('merges consecutive same-role messages into an alternating history', async () => {
    const message = await send([
      { role: 'user', content: 'First question' },
      { role: 'user', content: 'Second question' },
      { role: 'assistant', content: 'First answer' },
      { role: 'assistant', content: 'Second answer' },
      { role: 'user', content: 'Third question' },
      { role: 'user', content: [{ type: 'text', text: 'And a fourth' }] },
    ]);

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const state = lastKiroBody(stack).conversationState;
    const roles = (state.history as object[]).map((h) => Object.keys(h)[0]);
    expect(roles).toEqual(roles.map((_, i) => (i % 2 === 0 ? 'userInputMessage' : 'assistantResponseMessage')));
    // Nothing is lost: every turn's text reaches Kiro, the last user message as the current one.
    const history = JSON.stringify(state.history);
    for (const text of ['First question', 'Second question', 'First answer', 'Second answer', 'Third question']) {
      expect(history).toContain(text);
    }
    expect(state.currentMessage.userInputMessage.content).toBe('And a fourth');
  });

  it('accepts a tool_result whose tool_use is not in the history (orphan)', async () => {
    const message = await send(
      [
        { role: 'user', content: 'Read it' },
        { role: 'assistant', content: 'Sure.' },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'tooluse_orphan', content: 'file contents' },
            { type: 'text', text: 'What does it say?' },
          ],
        },
      ],
      [readTool],
    );

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const ctx = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.userInputMessageContext;
    expect(ctx?.toolResults ?? []).toEqual([]);
  });

  it('accepts a tool_use that was never answered with a tool_result', async () => {
    const message = await send(
      [
        { role: 'user', content: 'Read a.txt' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tooluse_unanswered', name: 'Read', input: { file_path: 'a.txt' } }] },
        { role: 'user', content: 'Never mind, just say hi' },
      ],
      [readTool],
    );

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
  });

  it('accepts history using a tool the request does not declare', async () => {
    const message = await send([
      { role: 'user', content: 'Search for foo' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'tooluse_grep', name: 'Grep', input: { pattern: 'foo' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tooluse_grep', content: 'no matches' }] },
    ]);

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const current = lastKiroBody(stack).conversationState.currentMessage.userInputMessage;
    const declared = (current.userInputMessageContext.tools as Array<{ toolSpecification: { name: string } }>).map(
      (t) => t.toolSpecification.name,
    );
    expect(declared.map((n) => n.toLowerCase())).toContain('grep');
    expect(current.userInputMessageContext.toolResults).toEqual([
      { toolUseId: 'tooluse_grep', content: [{ text: 'no matches' }], status: 'success' },
    ]);
  });

  it('accepts MCP-style tools whose schema has required: null and properties: null', async () => {
    const mcpTools = [
      { name: 'mcp__server__ping', description: 'Ping', input_schema: { type: 'object', properties: null, required: null } },
      { name: 'mcp__server__echo', description: 'Echo', input_schema: { type: 'object', properties: { text: { type: 'string' } }, required: null } },
      { name: 'mcp__server__bare', input_schema: { properties: null } },
    ];

    const message = await send([{ role: 'user', content: 'Ping the server' }], mcpTools);

    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const tools = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.userInputMessageContext.tools;
    expect(tools).toHaveLength(3);
  });

  it('shortens an 80-character tool name upstream and gives the tool_use back under the original name', async () => {
    const longName = `mcp__a_very_long_server_name__${'do_something_really_specific_'.repeat(3)}`.slice(0, 80);
    expect(longName).toHaveLength(80);
    const longTool: Tool = { name: longName, description: 'Long', input_schema: { type: 'object', properties: { n: { type: 'number' } } } };

    // Learn the name the gateway sends upstream.
    await send([{ role: 'user', content: 'Call it' }], [longTool]);
    const kiroName = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.userInputMessageContext.tools[0]
      .toolSpecification.name as string;
    expect(kiroName.length).toBeLessThanOrEqual(63);
    expect(kiroName).not.toBe(longName);

    // Kiro answers with its (short) name; the client must see the original.
    const script = simScript({ events: [{ toolUse: { name: kiroName, id: 'tooluse_long', input: { n: 1 }, fragments: 2 } }] });
    const stream = stack.client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      tools: [longTool],
      messages: [{ role: 'user', content: `Call it ${script}` }],
    });
    const first = await stream.finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    // §7.1: with thinking off an (empty) text block always opens at index 0, before the tool_use.
    expect(first.content.filter((b) => b.type === 'tool_use')).toEqual([
      { type: 'tool_use', id: 'tooluse_long', name: longName, input: { n: 1 } },
    ]);

    // Sending that tool_use back in the history works too.
    const second = await send(
      [
        { role: 'user', content: 'Call it' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tooluse_long', content: 'done' }] },
      ],
      [longTool],
    );
    expect(second.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const history = lastKiroBody(stack).conversationState.history;
    expect(history.at(-1).assistantResponseMessage.toolUses).toEqual([{ toolUseId: 'tooluse_long', name: kiroName, input: { n: 1 } }]);
  });
});

describe('§12.3 "Input is too long"', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { maxInputBytes: 2000 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers 400 invalid_request_error "prompt is too long" without retrying', async () => {
    const err = await stack.client.messages
      .create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'word '.repeat(1000) }] })
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as APIError;
    expect(e.status).toBe(400);
    expect(e.type).toBe('invalid_request_error');
    expect((e.error as { error: { message: string } }).error.message.startsWith('prompt is too long')).toBe(true);
    expect(generateCalls(stack).map((r) => r.status)).toEqual([400]);
  });

  it('answers the same through a raw streaming request (before any SSE is sent)', async () => {
    const res = await post(`${stack.url}/v1/messages`, {
      model: MODEL,
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'word '.repeat(1000) }],
    });

    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(res.json.error.message).toMatch(/^prompt is too long/);
  });

  it('still serves a request that fits', async () => {
    const message = await stack.client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
  });
});

describe('§12.1 long-output truncation of a tool call', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const truncated = (extra: Partial<Extract<Script['fault'], { kind: 'truncated-tool-use' }>> = {}) =>
    simScript({ events: [{ text: 'I will write the file now.' }], fault: { kind: 'truncated-tool-use', ...extra } });
  const request = (script: string) => ({
    model: MODEL,
    max_tokens: 32000,
    tools: [writeTool],
    messages: [{ role: 'user' as const, content: `Write a big file ${script}` }],
  });

  function expectNotice(content: Anthropic.ContentBlock[]): void {
    expect(content.some((b) => b.type === 'tool_use')).toBe(false);
    const text = content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text).toContain('I will write the file now.');
    expect(text).toMatch(/`Write` was cut off/);
  }

  it('streams a text notice instead of the broken tool_use and stops with max_tokens', async () => {
    const message = await stack.client.messages.stream(request(truncated())).finalMessage();

    expect(message.stop_reason).toBe('max_tokens');
    expectNotice(message.content);
  });

  it('sends no tool_use block or input_json_delta over the wire', async () => {
    const { records } = await rawStream(stack, request(truncated()));

    expect(records.some((r) => r.event === 'content_block_start' && r.json.content_block.type === 'tool_use')).toBe(false);
    expect(records.some((r) => r.event === 'content_block_delta' && r.json.delta.type === 'input_json_delta')).toBe(false);
    expect(records.find((r) => r.event === 'message_delta')!.json.delta.stop_reason).toBe('max_tokens');
    expect(records.at(-1)!.event).toBe('message_stop');
  });

  it('does the same without the ContentLengthExceededException frame', async () => {
    const message = await stack.client.messages.stream(request(truncated({ exception: false }))).finalMessage();

    expect(message.stop_reason).toBe('max_tokens');
    expectNotice(message.content);
  });

  it('answers a non-streaming request with the notice and stop_reason max_tokens', async () => {
    const message = await stack.client.messages.create({ ...request(truncated()), max_tokens: 4096 });

    expect(message.stop_reason).toBe('max_tokens');
    expectNotice(message.content);
  });

  it('does the same in the buffered /cc/v1 mode', async () => {
    const { records } = await rawStream(stack, request(truncated()), '/cc/v1/messages');

    expect(records.some((r) => r.event === 'content_block_start' && r.json.content_block.type === 'tool_use')).toBe(false);
    expect(records.find((r) => r.event === 'message_delta')!.json.delta.stop_reason).toBe('max_tokens');
  });
});
