import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

const WEB_SEARCH_TOOL = { type: 'web_search_20250305', name: 'web_search', max_uses: 8 } as const;
const QUERY = 'rust async traits';

describe('web search (Claude Code’s server tool) answered from Kiro’s MCP endpoint', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const mcpCalls = () => stack.sim.stats.requests.filter((r) => r.path === '/mcp');

  it('streams server_tool_use, the search results and a summary, without calling the model', async () => {
    const generateBefore = stack.sim.stats.generate;
    const stream = stack.client.messages.stream({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 1024,
      tools: [WEB_SEARCH_TOOL as any],
      messages: [{ role: 'user', content: `Perform a web search for the query: ${QUERY}` }],
    });
    const message = await stream.finalMessage();

    const types = message.content.map((b) => b.type);
    expect(types).toEqual(['text', 'server_tool_use', 'web_search_tool_result', 'text']);
    const use = message.content[1] as { id: string; name: string; input: unknown };
    expect(use.name).toBe('web_search');
    expect(use.input).toEqual({ query: QUERY });
    const result = message.content[2] as { tool_use_id: string; content: Array<{ type: string; url: string }> };
    expect(result.tool_use_id).toBe(use.id);
    expect(result.content.length).toBeGreaterThan(0);
    expect(result.content[0]!.type).toBe('web_search_result');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.server_tool_use?.web_search_requests).toBe(1);

    const call = mcpCalls().at(-1)!;
    expect(call.body).toMatchObject({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'web_search', arguments: { query: QUERY } } });
    expect(String(call.headers.authorization)).toMatch(/^Bearer /);
    expect(stack.sim.stats.generate).toBe(generateBefore);
  });

  it('answers the same search as one JSON message when not streaming', async () => {
    const message = await stack.client.messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 1024,
      tools: [WEB_SEARCH_TOOL as any],
      messages: [{ role: 'user', content: `Perform a web search for the query: ${QUERY}` }],
    });
    expect(message.content.map((b) => b.type)).toEqual(['text', 'server_tool_use', 'web_search_tool_result', 'text']);
  });

  it('still answers (without results) when the MCP endpoint fails', async () => {
    const message = await stack.client.messages.create({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 1024,
      tools: [WEB_SEARCH_TOOL as any],
      messages: [{ role: 'user', content: 'Perform a web search for the query: <sim>{"status":500,"body":"boom"}</sim>' }],
    });
    expect(message.content.map((b) => b.type)).toContain('web_search_tool_result');
    const result = message.content.find((b) => b.type === 'web_search_tool_result') as unknown as { content: unknown[] };
    expect(result.content).toEqual([]);
  });
});
