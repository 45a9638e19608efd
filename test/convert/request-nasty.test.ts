/**
 * Inputs that real clients send and that Kiro would reject as "Improperly formed request" if
 * forwarded naively (docs/kiro-protocol.md §12.2). Each must convert into a well-formed body.
 */
import { describe, expect, it } from 'vitest';
import type { ContentBlockParam, MessageParam, MessagesRequest, ToolParam } from '../../src/anthropic/types.js';
import { convertRequest } from '../../src/convert/request.js';
import type { KiroRequestBody } from '../../src/kiro/types.js';
import { assertWellFormedKiroBody } from './well-formed.js';

function convert(messages: MessageParam[], extra: Partial<MessagesRequest> = {}) {
  const out = convertRequest({ model: 'claude-opus-4-8', max_tokens: 100, messages, ...extra });
  assertWellFormedKiroBody(out.body);
  return out;
}

const tools: ToolParam[] = [{ name: 'Read', description: 'read', input_schema: { type: 'object', properties: {} } }];

describe('nasty inputs become well-formed Kiro bodies', () => {
  it('consecutive same-role messages after a Claude Code network drop', () => {
    const out = convert(
      [
        { role: 'user', content: 'read a.txt' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: 'a.txt' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'A' }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'A' }] },
        { role: 'assistant', content: 'The file says A.' },
        { role: 'assistant', content: 'The file says A.' },
        { role: 'user', content: 'thanks' },
        { role: 'user', content: 'thanks' },
      ],
      { tools },
    );
    expect(out.body.conversationState.currentMessage.userInputMessage.content).toBe('thanks');
  });

  it('orphan tool_result in the current message and in history', () => {
    const out = convert([
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nobody', content: 'x' }, { type: 'text', text: 'hi' }] },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'ghost', content: 'y' }] },
    ]);
    expect(JSON.stringify(out.body)).not.toMatch(/nobody|ghost/);
  });

  it('tool_use with no result, in the middle and at the end of history', () => {
    const out = convert(
      [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'lost_1', name: 'Read', input: {} }] },
        { role: 'user', content: 'still there?' },
        { role: 'assistant', content: [{ type: 'text', text: 'yes' }, { type: 'tool_use', id: 'lost_2', name: 'Read', input: {} }] },
        { role: 'user', content: 'answer without running the tool' },
      ],
      { tools },
    );
    expect(JSON.stringify(out.body)).not.toMatch(/lost_/);
  });

  it('MCP tool with required: null and properties: null', () => {
    const out = convert([{ role: 'user', content: 'x' }], {
      tools: [{ name: 'mcp__srv__q', description: 'q', input_schema: { type: 'object', properties: null, required: null } }],
    });
    const json = out.body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools![0].toolSpecification.inputSchema.json;
    expect(json.required).toEqual([]);
    expect(json.properties).toEqual({});
  });

  it('80-character tool name used in history', () => {
    const name = `mcp__${'n'.repeat(75)}`;
    const out = convert(
      [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name, input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] },
      ],
      { tools: [{ name, description: 'd', input_schema: { type: 'object' } }] },
    );
    expect([...out.toolNameMap.values()]).toEqual([name]);
  });

  it('history tool missing from tools', () => {
    const out = convert(
      [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'RemovedTool', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] },
      ],
      { tools },
    );
    const names = out.body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools!.map((t) => t.toolSpecification.name);
    expect(names).toEqual(['Read', 'RemovedTool']);
  });

  it('a conversation that is only assistant prefill after the first user turn', () => {
    convert([
      { role: 'user', content: '' },
      { role: 'assistant', content: '' },
      { role: 'assistant', content: [] },
    ]);
  });

  it('randomly generated conversations (seeded) always come out well formed', () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const toolNames = ['Read', 'read', 'Bash', 'Gone', `mcp__${'z'.repeat(70)}`];
    for (let run = 0; run < 300; run++) {
      const ids: string[] = [];
      const messages: MessageParam[] = [];
      const count = 1 + Math.floor(rand() * 10);
      for (let i = 0; i < count; i++) {
        const role = pick(['user', 'user', 'assistant', 'assistant', 'system'] as const);
        const blocks: ContentBlockParam[] = [];
        const n = Math.floor(rand() * 4);
        for (let b = 0; b < n; b++) {
          const kind = rand();
          if (role === 'assistant' && kind < 0.4) {
            const id = `id${Math.floor(rand() * 6)}`;
            ids.push(id);
            blocks.push({ type: 'tool_use', id, name: pick(toolNames), input: rand() < 0.8 ? { a: 1 } : 'bad' });
          } else if (role === 'assistant' && kind < 0.55) {
            blocks.push({ type: 'thinking', thinking: pick(['', 'hmm']) });
          } else if (role === 'user' && kind < 0.5) {
            blocks.push({ type: 'tool_result', tool_use_id: ids.length && rand() < 0.7 ? pick(ids) : 'orphan', content: pick(['r', [], undefined]) as never, is_error: rand() < 0.2 });
          } else {
            blocks.push({ type: 'text', text: pick(['', ' ', 'text', '\n']) });
          }
        }
        messages.push({ role, content: rand() < 0.2 ? pick(['', 'plain']) : blocks });
      }
      if (!messages.some((m) => m.role === 'user')) messages.push({ role: 'user', content: 'q' });
      let out: KiroRequestBody;
      try {
        out = convertRequest({
          model: 'claude-sonnet-4-6',
          max_tokens: 10,
          messages,
          tools: rand() < 0.5 ? tools : undefined,
          system: rand() < 0.5 ? 'sys' : undefined,
          thinking: rand() < 0.3 ? { type: 'adaptive' } : undefined,
        }).body;
        assertWellFormedKiroBody(out);
      } catch (err) {
        throw new Error(`run ${run} failed for ${JSON.stringify(messages)}: ${(err as Error).message}`);
      }
    }
  });
});

describe('assertWellFormedKiroBody', () => {
  const good = () => convert([
    { role: 'user', content: 'x' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'Read', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] },
  ], { tools }).body;

  it('rejects consecutive user turns', () => {
    const body = good();
    const h = body.conversationState.history!;
    h.splice(1, 0, h[0]);
    expect(() => assertWellFormedKiroBody(body)).toThrow(/alternate/);
  });

  it('rejects a tool use without result and an orphan result', () => {
    const body = good();
    body.conversationState.currentMessage.userInputMessage.content = 'x';
    delete body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.toolResults;
    expect(() => assertWellFormedKiroBody(body)).toThrow(/has no toolResult/);
    const body2 = good();
    body2.conversationState.currentMessage.userInputMessage.userInputMessageContext!.toolResults![0].toolUseId = 'x';
    expect(() => assertWellFormedKiroBody(body2)).toThrow(/answers no toolUse/);
  });

  it('rejects undeclared history tools, null required and empty assistant content', () => {
    const body = good();
    body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools = [];
    expect(() => assertWellFormedKiroBody(body)).toThrow(/not declared/);
    // The tool specifications are shared with other requests (cached, frozen): change a copy.
    const body2 = structuredClone(good());
    body2.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools![0].toolSpecification.inputSchema.json.required = null;
    expect(() => assertWellFormedKiroBody(body2)).toThrow(/required is null/);
    const body3 = good();
    (body3.conversationState.history![1] as { assistantResponseMessage: { content: string } }).assistantResponseMessage.content = '';
    expect(() => assertWellFormedKiroBody(body3)).toThrow(/empty assistant content/);
  });
});
