import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateCountTokensRequest, validateMessagesRequest } from '../../src/anthropic/validate.js';
import { InvalidRequestError } from '../../src/errors.js';

function fixtureBody(name: string): Record<string, unknown> {
  const path = fileURLToPath(new URL(`../fixtures/claude-code/${name}.json`, import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { body: Record<string, unknown> }).body;
}

const base = () => ({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] as unknown[] });

function errorOf(body: unknown, fn: (body: unknown) => unknown = validateMessagesRequest): string {
  try {
    fn(body);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return (err as Error).message;
  }
  throw new Error('expected validation to fail');
}

describe('validateMessagesRequest', () => {
  it.each(['first-turn', 'tool-result-turn'])('accepts the Claude Code fixture %s and returns the same object', (name) => {
    const body = fixtureBody(name);
    expect(validateMessagesRequest(body)).toBe(body);
  });

  it('accepts optional features and ignores unknown fields', () => {
    const body = {
      ...base(),
      system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'q', cache_control: { type: 'ephemeral' } }, { type: 'document', source: {} }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 't', signature: 'sig' },
            { type: 'redacted_thinking', data: 'd' },
            { type: 'server_tool_use', id: 's', name: 'web_search', input: {} },
            { type: 'tool_use', id: 'u', name: 'Read', input: { a: 1 } },
          ],
        },
        { role: 'system', content: 'mid-conversation' },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'u', content: [{ type: 'text', text: 'r' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'x' } }], is_error: false },
            { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
          ],
        },
      ],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }, { name: 'mcp', input_schema: { type: 'object', required: null } }],
      thinking: { type: 'adaptive' },
      output_config: { effort: 'high' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      metadata: { user_id: 'u' },
      stream: true,
      temperature: 0.5,
      stop_sequences: ['x'],
      tool_choice: { type: 'auto' },
      some_future_field: { anything: true },
    };
    expect(() => validateMessagesRequest(body)).not.toThrow();
  });

  it.each<[string, (b: Record<string, unknown>) => unknown, string]>([
    ['non-object body', () => 'x', 'request body: Input should be a valid dictionary'],
    ['missing model', (b) => ({ ...b, model: undefined }), 'model: Field required'],
    ['numeric model', (b) => ({ ...b, model: 4 }), 'model: Input should be a valid string'],
    ['missing max_tokens', (b) => ({ ...b, max_tokens: undefined }), 'max_tokens: Field required'],
    ['fractional max_tokens', (b) => ({ ...b, max_tokens: 1.5 }), 'max_tokens: Input should be a valid integer'],
    ['zero max_tokens', (b) => ({ ...b, max_tokens: 0 }), 'max_tokens: Input should be greater than or equal to 1'],
    ['missing messages', (b) => ({ ...b, messages: undefined }), 'messages: Field required'],
    ['messages not a list', (b) => ({ ...b, messages: {} }), 'messages: Input should be a valid list'],
    ['empty messages', (b) => ({ ...b, messages: [] }), 'messages: at least one message is required'],
    ['message not an object', (b) => ({ ...b, messages: ['hi'] }), 'messages.0: Input should be a valid dictionary'],
    ['unknown role', (b) => ({ ...b, messages: [{ role: 'tool', content: 'x' }] }), "messages.0.role: Input should be 'user', 'assistant' or 'system'"],
    ['missing content', (b) => ({ ...b, messages: [{ role: 'user' }] }), 'messages.0.content: Field required'],
    ['content a number', (b) => ({ ...b, messages: [{ role: 'user', content: 3 }] }), 'messages.0.content: Input should be a valid string or a list of content blocks'],
    [
      'unknown block type',
      (b) => ({ ...b, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }, { role: 'user', content: [{ type: 'video' }] }] }),
      "messages.2.content.0.type: Input should be 'text', 'image', 'document', 'search_result', 'tool_result' or 'container_upload'",
    ],
    ['tool_result in an assistant turn', (b) => ({ ...b, messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'x' }] }] }), 'messages.0.content.0.type: Input should be'],
    ['image in a system message', (b) => ({ ...b, messages: [{ role: 'system', content: [{ type: 'image' }] }] }), "messages.0.content.0.type: Input should be 'text'"],
    ['block without type', (b) => ({ ...b, messages: [{ role: 'user', content: [{ text: 'x' }] }] }), 'messages.0.content.0.type: Field required'],
    ['text without text', (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'text' }] }] }), 'messages.0.content.0.text: Field required'],
    [
      'bad image media type',
      (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }] }] }),
      "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
    ],
    [
      'bad image source type',
      (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'path', path: '/x' } }] }] }),
      "messages.0.content.0.source.type: Input should be 'base64', 'url' or 'file'",
    ],
    ['image without data', (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }] }] }), 'messages.0.content.0.source.data: Field required'],
    ['tool_use without id', (b) => ({ ...b, messages: [{ role: 'assistant', content: [{ type: 'tool_use', name: 'x', input: {} }] }] }), 'messages.0.content.0.id: Field required'],
    ['tool_use input a string', (b) => ({ ...b, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'i', name: 'x', input: '{}' }] }] }), 'messages.0.content.0.input: Input should be a valid dictionary'],
    ['tool_result without id', (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'x' }] }] }), 'messages.0.content.0.tool_use_id: Field required'],
    ['tool_result content a number', (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'i', content: 5 }] }] }), 'messages.0.content.0.content: Input should be'],
    ['tool_result item text missing', (b) => ({ ...b, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'i', content: [{ type: 'text' }] }] }] }), 'messages.0.content.0.content.0.text: Field required'],
    ['system a number', (b) => ({ ...b, system: 5 }), 'system: Input should be a valid string or a list of text blocks'],
    ['system block not text', (b) => ({ ...b, system: [{ type: 'image' }] }), "system.0.type: Input should be 'text'"],
    ['tools not a list', (b) => ({ ...b, tools: {} }), 'tools: Input should be a valid list'],
    ['tool without name', (b) => ({ ...b, tools: [{ input_schema: {} }] }), 'tools.0.name: Field required'],
    ['tool schema a string', (b) => ({ ...b, tools: [{ name: 'x', input_schema: 'object' }] }), 'tools.0.input_schema: Input should be a valid dictionary'],
    ['thinking without type', (b) => ({ ...b, thinking: {} }), 'thinking.type: Field required'],
    ['thinking budget a string', (b) => ({ ...b, thinking: { type: 'enabled', budget_tokens: '1000' } }), 'thinking.budget_tokens: Input should be a valid integer'],
    ['stream a string', (b) => ({ ...b, stream: 'yes' }), 'stream: Input should be a valid boolean'],
    ['metadata.user_id a number', (b) => ({ ...b, metadata: { user_id: 1 } }), 'metadata.user_id: Input should be a valid string'],
    ['stop_sequences with a number', (b) => ({ ...b, stop_sequences: ['a', 1] }), 'stop_sequences.1: Input should be a valid string'],
  ])('rejects %s', (_, mutate, message) => {
    expect(errorOf(mutate(base()))).toContain(message);
  });
});

describe('validateCountTokensRequest', () => {
  it('does not require max_tokens', () => {
    const { max_tokens: _, ...body } = base();
    expect(validateCountTokensRequest(body)).toBe(body);
  });

  it('still checks messages', () => {
    expect(errorOf({ model: 'claude-sonnet-4-5', messages: [] }, validateCountTokensRequest)).toBe('messages: at least one message is required');
  });
});
