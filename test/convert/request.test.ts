import { describe, expect, it } from 'vitest';
import type { MessageParam, MessagesRequest, ToolParam } from '../../src/anthropic/types.js';
import { convertRequest, sessionIdFromUserId } from '../../src/convert/request.js';
import { ASSISTANT_FILLER, USER_FILLER } from '../../src/convert/history.js';
import { CHUNKED_WRITE_POLICY, SYSTEM_ACK } from '../../src/convert/system.js';
import { EDIT_TOOL_HINT, PLACEHOLDER_TOOL_DESCRIPTION, WRITE_TOOL_HINT } from '../../src/convert/tools.js';
import { estimateInputTokens } from '../../src/convert/tokens.js';
import { TOOL_RESULT_IMAGE_NOTICE } from '../../src/convert/user-turn.js';
import { InvalidRequestError, NotFoundError } from '../../src/errors.js';
import type { KiroHistoryEntry, KiroUserInputMessage } from '../../src/kiro/types.js';
import { assertWellFormedKiroBody } from './well-formed.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function req(messages: MessageParam[], extra: Partial<MessagesRequest> = {}): MessagesRequest {
  return { model: 'claude-sonnet-4-5-20250929', max_tokens: 1024, messages, ...extra };
}

function convert(r: MessagesRequest) {
  const out = convertRequest(r);
  assertWellFormedKiroBody(out.body);
  return out;
}

function history(r: MessagesRequest): KiroHistoryEntry[] {
  return convert(r).body.conversationState.history ?? [];
}

function current(r: MessagesRequest): KiroUserInputMessage {
  return convert(r).body.conversationState.currentMessage.userInputMessage;
}

const toolUse = (id: string, name = 'get_weather', input: unknown = { city: 'Paris' }) =>
  ({ type: 'tool_use', id, name, input }) as const;
const toolResult = (id: string, content: unknown = 'ok', extra: object = {}) =>
  ({ type: 'tool_result', tool_use_id: id, content, ...extra }) as never;
const weatherTool: ToolParam = {
  name: 'get_weather',
  description: 'Get weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('convertRequest: the §13.3 worked example', () => {
  const example: MessagesRequest = {
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 1024,
    stream: true,
    system: [{ type: 'text', text: 'You are helpful.' }],
    tools: [weatherTool],
    messages: [
      { role: 'user', content: "What's the weather in Paris?" },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C, sunny' }] },
    ],
  };

  it('produces exactly the documented Kiro body', () => {
    const out = convert(example);
    const cs = out.body.conversationState;
    expect(cs.agentContinuationId).toMatch(UUID);
    expect(cs.conversationId).toMatch(UUID);
    expect(out.body).toEqual({
      conversationState: {
        agentContinuationId: cs.agentContinuationId,
        agentTaskType: 'vibe',
        chatTriggerType: 'MANUAL',
        conversationId: cs.conversationId,
        currentMessage: {
          userInputMessage: {
            userInputMessageContext: {
              toolResults: [{ toolUseId: 'toolu_01', content: [{ text: '18°C, sunny' }], status: 'success' }],
              tools: [
                {
                  toolSpecification: {
                    name: 'get_weather',
                    description: 'Get weather for a city',
                    inputSchema: {
                      json: {
                        type: 'object',
                        properties: { city: { type: 'string' } },
                        required: ['city'],
                        additionalProperties: true,
                      },
                    },
                  },
                },
              ],
            },
            content: '',
            modelId: 'claude-sonnet-4.5',
            origin: 'AI_EDITOR',
          },
        },
        history: [
          { userInputMessage: { content: `You are helpful.\n${CHUNKED_WRITE_POLICY}`, modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR' } },
          { assistantResponseMessage: { content: 'I will follow these instructions.' } },
          { userInputMessage: { content: "What's the weather in Paris?", modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR' } },
          {
            assistantResponseMessage: {
              content: 'Let me check.',
              toolUses: [{ toolUseId: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }],
            },
          },
        ],
      },
    });
    expect(out.kiroModelId).toBe('claude-sonnet-4.5');
    expect(out.windowSize).toBe(200_000);
    expect(out.thinking).toBe(false);
    expect(out.toolNameMap.size).toBe(0);
    expect(out.webSearch).toBeUndefined();
  });

  it('puts the enabled-thinking prefix at the start of the system turn', () => {
    const h = history({ ...example, thinking: { type: 'enabled', budget_tokens: 10000 } });
    const first = (h[0] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content;
    expect(first.startsWith('<thinking_mode>enabled</thinking_mode><max_thinking_length>10000</max_thinking_length>\nYou are helpful.\n')).toBe(true);
  });
});

describe('convertRequest: thinking', () => {
  const firstUser = (r: MessagesRequest) => (history(r)[0] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content;

  it('clamps budget_tokens to 24576 and defaults it to 20000', () => {
    expect(firstUser(req([{ role: 'user', content: 'hi' }], { thinking: { type: 'enabled', budget_tokens: 100000 } }))).toBe(
      '<thinking_mode>enabled</thinking_mode><max_thinking_length>24576</max_thinking_length>',
    );
    expect(firstUser(req([{ role: 'user', content: 'hi' }], { thinking: { type: 'enabled' } }))).toContain(
      '<max_thinking_length>20000</max_thinking_length>',
    );
  });

  it('uses the adaptive prefix with output_config.effort, default high', () => {
    const r = req([{ role: 'user', content: 'hi' }], { thinking: { type: 'adaptive' }, system: 'S' });
    expect(firstUser(r)).toBe(`<thinking_mode>adaptive</thinking_mode><thinking_effort>high</thinking_effort>\nS\n${CHUNKED_WRITE_POLICY}`);
    expect(firstUser({ ...r, output_config: { effort: 'low' } })).toContain('<thinking_effort>low</thinking_effort>');
    expect(convert(r).thinking).toBe(true);
  });

  it('sends a thinking-only pair when there is no system prompt, and nothing when thinking is off', () => {
    const h = history(req([{ role: 'user', content: 'hi' }], { thinking: { type: 'adaptive' } }));
    expect(h).toHaveLength(2);
    expect((h[1] as { assistantResponseMessage: { content: string } }).assistantResponseMessage.content).toBe(SYSTEM_ACK);
    expect(convert(req([{ role: 'user', content: 'hi' }], { thinking: { type: 'disabled' } })).body.conversationState.history).toBeUndefined();
    expect(convert(req([{ role: 'user', content: 'hi' }], { system: [] })).body.conversationState.history).toBeUndefined();
  });

  it('does not add a prefix when the system prompt already carries thinking tags', () => {
    const r = req([{ role: 'user', content: 'hi' }], { thinking: { type: 'adaptive' }, system: '<thinking_mode>enabled</thinking_mode> be brief' });
    expect(firstUser(r)).toBe(`<thinking_mode>enabled</thinking_mode> be brief\n${CHUNKED_WRITE_POLICY}`);
  });

  it('forces thinking for -thinking model names: adaptive on opus 4.6, enabled 20000 elsewhere', () => {
    const opus = convert(req([{ role: 'user', content: 'hi' }], { model: 'claude-opus-4-6-thinking' }));
    expect(opus.thinking).toBe(true);
    expect(JSON.stringify(opus.body)).toContain('<thinking_mode>adaptive</thinking_mode><thinking_effort>high</thinking_effort>');
    const sonnet = convert(req([{ role: 'user', content: 'hi' }], { model: 'claude-sonnet-4-5-20250929-thinking', thinking: { type: 'disabled' } }));
    expect(JSON.stringify(sonnet.body)).toContain('<max_thinking_length>20000</max_thinking_length>');
  });
});

describe('convertRequest: messages', () => {
  it('rejects unknown models with not_found and requests without a user message', () => {
    expect(() => convertRequest(req([{ role: 'user', content: 'x' }], { model: 'gpt-4o' }))).toThrow(NotFoundError);
    expect(() => convertRequest(req([{ role: 'assistant', content: 'x' }]))).toThrow(InvalidRequestError);
    expect(() => convertRequest(req([]))).toThrow(InvalidRequestError);
  });

  it('drops trailing assistant prefill', () => {
    const r = req([
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: 'A' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: '{"partial":' },
    ]);
    expect(current(r).content).toBe('Q2');
    expect(JSON.stringify(convert(r).body)).not.toContain('partial');
  });

  it('joins current text blocks with a newline and keeps text next to tool results', () => {
    const c = current(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [toolUse('t1')] },
        { role: 'user', content: [toolResult('t1', 'res'), { type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      ]),
    );
    expect(c.content).toBe('a\nb');
    expect(c.userInputMessageContext?.toolResults).toEqual([{ toolUseId: 't1', content: [{ text: 'res' }], status: 'success' }]);
  });

  it('merges consecutive same-role messages and appends "OK" when two user turns precede the current one', () => {
    const h = history(
      req([
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
        { role: 'assistant', content: 'A1' },
        { role: 'assistant', content: [{ type: 'text', text: 'A2' }, toolUse('t1')] },
        { role: 'user', content: [toolResult('t1')] },
        { role: 'user', content: 'now' },
      ]),
    );
    expect(h).toEqual([
      { userInputMessage: { content: 'one\ntwo', modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR' } },
      {
        assistantResponseMessage: {
          content: 'A1\n\nA2',
          toolUses: [{ toolUseId: 't1', name: 'get_weather', input: { city: 'Paris' } }],
        },
      },
      {
        userInputMessage: {
          content: '',
          modelId: 'claude-sonnet-4.5',
          origin: 'AI_EDITOR',
          userInputMessageContext: { toolResults: [{ toolUseId: 't1', content: [{ text: 'ok' }], status: 'success' }] },
        },
      },
      { assistantResponseMessage: { content: ASSISTANT_FILLER } },
    ]);
  });

  it('starts history with a user turn when the conversation starts with an assistant', () => {
    const h = history(req([{ role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'hi' }], { system: 'S' }));
    expect(h.map((e) => Object.keys(e)[0])).toEqual(['userInputMessage', 'assistantResponseMessage', 'userInputMessage', 'assistantResponseMessage']);
    expect((h[2] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content).toBe(USER_FILLER);
  });

  it('re-serialises thinking inline, drops redacted thinking and uses " " for tool-only turns', () => {
    const h = history(
      req([
        { role: 'user', content: 'Q' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'sig' },
            { type: 'redacted_thinking', data: 'xx' },
            { type: 'text', text: 'Answer' },
          ],
        },
        { role: 'user', content: 'Q2' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'only' }] },
        { role: 'user', content: 'Q3' },
        { role: 'assistant', content: [toolUse('t1', 'get_weather', 'not an object')] },
        { role: 'user', content: [toolResult('t1')] },
      ]),
    );
    const contents = h.filter((e) => 'assistantResponseMessage' in e).map((e) => (e as { assistantResponseMessage: { content: string } }).assistantResponseMessage);
    expect(contents[0].content).toBe('<thinking>hmm</thinking>\n\nAnswer');
    expect(contents[1].content).toBe('<thinking>only</thinking>');
    expect(contents[2]).toEqual({ content: ' ', toolUses: [{ toolUseId: 't1', name: 'get_weather', input: {} }] });
  });

  it('never sends an empty assistant turn', () => {
    const h = history(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'x' }] },
        { role: 'user', content: 'Q2' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'Q3' },
      ]),
    );
    expect(h.filter((e) => 'assistantResponseMessage' in e).map((e) => (e as { assistantResponseMessage: { content: string } }).assistantResponseMessage.content)).toEqual([
      ASSISTANT_FILLER,
      ASSISTANT_FILLER,
    ]);
  });

  it('converts supported base64 images and drops unsupported types', () => {
    const r = req([
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } }, { type: 'text', text: 'old' }] },
      { role: 'assistant', content: 'seen' },
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'BBB' } },
          { type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'CCC' } },
          { type: 'text', text: 'what is this?' },
        ],
      },
    ]);
    const out = convert(r);
    expect(out.body.conversationState.currentMessage.userInputMessage.images).toEqual([{ format: 'jpeg', source: { bytes: 'BBB' } }]);
    expect((out.body.conversationState.history![0] as { userInputMessage: KiroUserInputMessage }).userInputMessage.images).toEqual([
      { format: 'png', source: { bytes: 'AAA' } },
    ]);
  });

  it('refuses an image by URL (Kiro takes bytes only; the gateway fetches nothing) instead of dropping it', () => {
    const r = req([{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }, { type: 'text', text: 'what is this?' }] }]);
    expect(() => convert(r)).toThrow(/source type "url" cannot be sent to Kiro/);
  });

  it('refuses images, in the current message or history, to a model whose list says it takes none', () => {
    const sonnet = { kiroModelId: 'claude-sonnet-4.5', windowSize: 200_000, maxOutputTokens: 64_000, images: true };
    const haiku = { kiroModelId: 'claude-haiku-4.5', windowSize: 200_000, maxOutputTokens: 64_000, images: false };
    const models = { offered: [sonnet, haiku] };
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } } as const;
    const inHistory = req(
      [
        { role: 'user', content: [image, { type: 'text', text: 'old' }] },
        { role: 'assistant', content: 'seen' },
        { role: 'user', content: 'and now?' },
      ],
      { model: 'claude-haiku-4-5-20251001' },
    );
    const inCurrent = req([{ role: 'user', content: [image] }], { model: 'claude-haiku-4-5-20251001' });
    for (const r of [inHistory, inCurrent]) {
      expect(() => convertRequest(r, { models })).toThrow(InvalidRequestError);
      expect(() => convertRequest(r, { models })).toThrow(/claude-haiku-4-5-20251001 \(Kiro claude-haiku-4.5\) does not take image input.*takes images: claude-sonnet-4-5-20250929$/);
    }
    expect(convertRequest(req([{ role: 'user', content: 'text only' }], { model: 'claude-haiku-4-5-20251001' }), { models }).kiroModelId).toBe('claude-haiku-4.5');
    expect(convertRequest({ ...inCurrent, model: 'claude-sonnet-4-5-20250929' }, { models }).kiroModelId).toBe('claude-sonnet-4.5');
  });

  it('applies the tool_result content rules', () => {
    const c = current(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [toolUse('a'), toolUse('b'), toolUse('c'), toolUse('d')] },
        {
          role: 'user',
          content: [
            toolResult('a', [{ type: 'text', text: 'l1' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'x' } }, { type: 'text', text: 'l2' }]),
            toolResult('b', { some: 'json' }),
            { type: 'tool_result', tool_use_id: 'c' },
            toolResult('d', 'boom', { is_error: true }),
          ],
        },
      ]),
    );
    expect(c.userInputMessageContext?.toolResults).toEqual([
      // An image a tool returned is named in its place (kiro.rs drops it silently).
      { toolUseId: 'a', content: [{ text: `l1\n${TOOL_RESULT_IMAGE_NOTICE}\nl2` }], status: 'success' },
      { toolUseId: 'b', content: [{ text: '{"some":"json"}' }], status: 'success' },
      { toolUseId: 'c', content: [{ text: '' }], status: 'success' },
      { toolUseId: 'd', content: [{ text: 'boom' }], status: 'error', isError: true },
    ]);
  });
});

describe('convertRequest: mid-conversation system messages', () => {
  it('folds a trailing system message into the current user message', () => {
    const c = current(req([{ role: 'user', content: 'say hi' }, { role: 'system', content: 'SYS-NOTE' }]));
    expect(c.content).toBe('say hi\nSYS-NOTE');
  });

  it('folds a system message into the preceding user turn of history', () => {
    const h = history(
      req([
        { role: 'user', content: 'Q' },
        { role: 'system', content: [{ type: 'text', text: 'SYS-NOTE' }] },
        { role: 'assistant', content: 'A' },
        { role: 'user', content: 'Q2' },
      ]),
    );
    expect((h[0] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content).toBe('Q\nSYS-NOTE');
  });

  it('turns a system message between two assistant turns into a user turn', () => {
    const h = history(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: 'A' },
        { role: 'system', content: 'SYS-NOTE' },
        { role: 'assistant', content: 'B' },
        { role: 'user', content: 'Q2' },
      ]),
    );
    expect((h[2] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content).toBe('SYS-NOTE');
  });
});

describe('convertRequest: tool pairing', () => {
  it('drops orphan and duplicate results of the current message', () => {
    const c = current(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [toolUse('t1')] },
        { role: 'user', content: [toolResult('t1', 'first'), toolResult('t1', 'again'), toolResult('ghost'), { type: 'text', text: 'go on' }] },
      ]),
    );
    expect(c.userInputMessageContext?.toolResults).toEqual([{ toolUseId: 't1', content: [{ text: 'first' }], status: 'success' }]);
    expect(c.content).toBe('go on');
  });

  it('removes history tool uses that got no result and results that answer nothing', () => {
    const r = req([
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: [{ type: 'text', text: 'Reading' }, toolUse('lost', 'Read')] },
      { role: 'user', content: 'network dropped, try again' },
      { role: 'assistant', content: [toolUse('t2', 'Read')] },
      { role: 'user', content: [toolResult('t2'), toolResult('stale')] },
      { role: 'assistant', content: 'done' },
      { role: 'user', content: [toolResult('t2')] },
    ]);
    const out = convert(r);
    const h = out.body.conversationState.history!;
    expect(h[1]).toEqual({ assistantResponseMessage: { content: 'Reading' } });
    expect((h[4] as { userInputMessage: KiroUserInputMessage }).userInputMessage.userInputMessageContext?.toolResults?.map((t) => t.toolUseId)).toEqual(['t2']);
    const c = out.body.conversationState.currentMessage.userInputMessage;
    expect(c.userInputMessageContext?.toolResults).toBeUndefined();
    expect(c.content).toBe(USER_FILLER);
  });

  it('replaces the " " placeholder when every tool use of a turn was removed', () => {
    const h = history(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [toolUse('lost')] },
        { role: 'user', content: 'again' },
      ]),
    );
    expect(h[1]).toEqual({ assistantResponseMessage: { content: ASSISTANT_FILLER } });
  });

  it('drops a repeated tool_use id', () => {
    const h = history(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [toolUse('t1')] },
        { role: 'user', content: [toolResult('t1')] },
        { role: 'assistant', content: [{ type: 'text', text: 'replayed' }, toolUse('t1')] },
        { role: 'user', content: [toolResult('t1')] },
        { role: 'assistant', content: 'end' },
        { role: 'user', content: 'next' },
      ]),
    );
    expect(h[3]).toEqual({ assistantResponseMessage: { content: 'replayed' } });
  });
});

describe('convertRequest: tools', () => {
  const withTools = (tools: ToolParam[], messages: MessageParam[] = [{ role: 'user', content: 'hi' }]) => {
    const out = convert(req(messages, { tools }));
    return { out, specs: out.body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools! };
  };

  it('normalises broken MCP schemas', () => {
    const { specs } = withTools([
      { name: 'mcp_a', description: 'a', input_schema: { type: 'object', properties: null, required: null } },
      { name: 'mcp_b', description: 'b', input_schema: { properties: { x: { type: 'string' } }, required: ['x', 3], additionalProperties: false } },
      { name: 'mcp_c', description: 'c', input_schema: 'nonsense' as never },
      { name: 'mcp_d', description: 'd', input_schema: { type: '', properties: { o: { type: 'object', properties: null, required: null, items: { type: null } } } } },
      { name: 'mcp_e', description: 'e' },
    ]);
    const json = specs.map((s) => s.toolSpecification.inputSchema.json);
    expect(json[0]).toEqual({ type: 'object', properties: {}, required: [], additionalProperties: true });
    expect(json[1]).toEqual({ type: 'object', properties: { x: { type: 'string' } }, required: ['x'], additionalProperties: false });
    expect(json[2]).toEqual({ type: 'object', properties: {}, required: [], additionalProperties: true });
    expect(json[3]).toEqual({ type: 'object', properties: { o: { type: 'object', items: {} } }, required: [], additionalProperties: true });
    expect(json[4]).toEqual({ type: 'object', properties: {}, required: [], additionalProperties: true });
  });

  it('does not modify the client schema objects', () => {
    const schema = { type: 'object', properties: null, required: null };
    withTools([{ name: 'x', description: 'x', input_schema: schema }]);
    expect(schema).toEqual({ type: 'object', properties: null, required: null });
  });

  it('truncates descriptions to 10000 code points and adds the Write/Edit hints', () => {
    const long = '😀'.repeat(10_005);
    const { specs } = withTools([
      { name: 'long', description: long, input_schema: { type: 'object' } },
      { name: 'Write', description: 'Writes a file', input_schema: { type: 'object' } },
      { name: 'Edit', description: 'Edits a file', input_schema: { type: 'object' } },
      { name: 'write', description: 'lowercase is another tool', input_schema: { type: 'object' } },
    ]);
    expect([...specs[0].toolSpecification.description]).toHaveLength(10_000);
    expect(specs[1].toolSpecification.description).toBe(`Writes a file${WRITE_TOOL_HINT}`);
    expect(specs[2].toolSpecification.description).toBe(`Edits a file${EDIT_TOOL_HINT}`);
    // Kiro compares names case-insensitively, so a second "write" would be a duplicate.
    expect(specs).toHaveLength(3);
    const longWrite = withTools([{ name: 'Write', description: 'w'.repeat(20_000), input_schema: { type: 'object' } }]).specs[0];
    expect(longWrite.toolSpecification.description).toHaveLength(10_000);
    expect(longWrite.toolSpecification.description.endsWith(WRITE_TOOL_HINT)).toBe(true);
  });

  it('maps a shortened tool name back on every request that declares it, the first and those served from the tool-list cache', () => {
    const longName = `mcp__only_declared__${'y'.repeat(60)}`;
    const tools = () => [{ name: longName, description: 'd', input_schema: { type: 'object' } }];
    for (let i = 0; i < 2; i++) {
      const { out, specs } = withTools(tools());
      const short = specs[0].toolSpecification.name;
      expect(short).not.toBe(longName);
      expect(out.toolNameMap.get(short), `request ${i + 1}`).toBe(longName);
    }
  });

  it('shortens names over 63 bytes everywhere and maps them back', () => {
    const longName = `mcp__some_server__${'x'.repeat(62)}`;
    expect(longName).toHaveLength(80);
    const { out, specs } = withTools([{ name: longName, description: 'd', input_schema: { type: 'object' } }], [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: [toolUse('t1', longName, {})] },
      { role: 'user', content: [toolResult('t1')] },
    ]);
    const short = specs[0].toolSpecification.name;
    expect(short).toHaveLength(63);
    expect(short).toMatch(/^mcp__some_server__x{36}_[0-9a-f]{8}$/);
    expect(out.toolNameMap.get(short)).toBe(longName);
    const asst = out.body.conversationState.history![1] as { assistantResponseMessage: { toolUses: Array<{ name: string }> } };
    expect(asst.assistantResponseMessage.toolUses[0].name).toBe(short);
  });

  it('declares placeholder tools for history tools missing from tools, case-insensitively', () => {
    const { specs } = withTools([{ name: 'Read', description: 'r', input_schema: { type: 'object' } }], [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: [toolUse('t1', 'read', {}), toolUse('t2', 'OldTool', {})] },
      { role: 'user', content: [toolResult('t1'), toolResult('t2')] },
    ]);
    expect(specs.map((s) => s.toolSpecification.name)).toEqual(['Read', 'OldTool']);
    expect(specs[1].toolSpecification.description).toBe(PLACEHOLDER_TOOL_DESCRIPTION);
  });

  it('declares history tools even when the request has no tools', () => {
    const out = convert(
      req([
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: [toolUse('t1', 'Bash', {})] },
        { role: 'user', content: [toolResult('t1')] },
      ]),
    );
    expect(out.body.conversationState.currentMessage.userInputMessage.userInputMessageContext?.tools?.map((t) => t.toolSpecification.name)).toEqual(['Bash']);
  });

  it('omits tools when there are none', () => {
    expect(current(req([{ role: 'user', content: 'hi' }])).userInputMessageContext).toEqual({});
  });
});

describe('convertRequest: ids, web search, estimate', () => {
  it('takes conversationId from metadata.user_id in both forms, else a fresh UUID, unless overridden', () => {
    const sid = '0b4445e1-f5be-49e1-87ce-62bbc28ad705';
    const idOf = (userId: string, opts = {}) =>
      convertRequest(req([{ role: 'user', content: 'x' }], { metadata: { user_id: userId } }), opts).body.conversationState.conversationId;
    expect(idOf(JSON.stringify({ device_id: 'd', account_uuid: '', session_id: sid }))).toBe(sid);
    expect(idOf(`user_abc123_account__session_${sid}`)).toBe(sid);
    expect(idOf('user_abc')).toMatch(UUID);
    expect(idOf('user_abc')).not.toBe(idOf('user_abc'));
    expect(idOf(`user_x_session_${sid}`, { conversationId: 'c0ffee00-0000-4000-8000-000000000000' })).toBe('c0ffee00-0000-4000-8000-000000000000');
    expect(sessionIdFromUserId('{"session_id":"short"}')).toBeUndefined();
    expect(sessionIdFromUserId('{not json')).toBeUndefined();
  });

  it('detects a web search request and extracts its query', () => {
    const ws: ToolParam = { type: 'web_search_20250305', name: 'web_search', max_uses: 8 };
    const out = convert(req([{ role: 'user', content: 'Perform a web search for the query: rust async traits' }], { tools: [ws] }));
    expect(out.webSearch).toEqual({ query: 'rust async traits' });
    expect(convert(req([{ role: 'user', content: [{ type: 'text', text: 'plain query' }] }], { tools: [ws] })).webSearch).toEqual({ query: 'plain query' });
    expect(convert(req([{ role: 'user', content: 'x' }], { tools: [ws, weatherTool] })).webSearch).toBeUndefined();
    expect(() => convertRequest(req([{ role: 'user', content: 'Perform a web search for the query: ' }], { tools: [ws] }))).toThrow(/no query/);
  });

  it('estimates input tokens exactly like estimateInputTokens', () => {
    const r = req(
      [
        { role: 'user', content: 'Hello there, how are you doing today?' },
        { role: 'assistant', content: [{ type: 'text', text: '很好，谢谢' }, toolUse('t1')] },
        { role: 'user', content: [toolResult('t1'), { type: 'text', text: 'more' }] },
        { role: 'assistant', content: 'prefill' },
      ],
      { system: [{ type: 'text', text: 'sys one' }, { type: 'text', text: 'sys two' }], tools: [weatherTool] },
    );
    expect(convert(r).inputTokensEstimate).toBe(estimateInputTokens(r));
  });
});
