import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/anthropic/types.js';
import {
  buildMcpWebSearchRequest,
  parseMcpWebSearchResponse,
  webSearchEvents,
  type WebSearchResult,
} from '../../src/convert/web-search.js';

function mcpAnswer(payload: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    id: 'x',
    jsonrpc: '2.0',
    result: { content: [{ type: 'text', text: JSON.stringify(payload) }], isError: false, ...extra },
  };
}

const RESULTS: WebSearchResult[] = [
  { title: 'Async fn in traits', url: 'https://blog.rust-lang.org/a', snippet: 'Stable since 1.75.', publishedDate: 1735776000000 },
  { title: 'No snippet', url: 'https://example.com/b', snippet: null, publishedDate: null },
];

function deltasOf(events: StreamEvent[], index: number): string[] {
  return events.flatMap((e) =>
    e.type === 'content_block_delta' && e.index === index && e.delta.type === 'text_delta' ? [e.delta.text] : [],
  );
}

describe('buildMcpWebSearchRequest', () => {
  it('builds a JSON-RPC tools/call for web_search with an id shaped like the Kiro IDE one', () => {
    const { id, body } = buildMcpWebSearchRequest('rust async traits');
    expect(id).toMatch(/^web_search_tooluse_[A-Za-z0-9]{22}_\d{13}_[a-z0-9]{8}$/);
    expect(body).toEqual({
      id,
      jsonrpc: '2.0',
      method: 'tools/call',
      params: { name: 'web_search', arguments: { query: 'rust async traits' } },
    });
  });

  it('uses a fresh id per request', () => {
    expect(buildMcpWebSearchRequest('q').id).not.toBe(buildMcpWebSearchRequest('q').id);
  });
});

describe('parseMcpWebSearchResponse', () => {
  it('reads the results out of the JSON text content', () => {
    const json = mcpAnswer({
      results: [
        {
          title: 'Async fn in traits',
          url: 'https://blog.rust-lang.org/a',
          snippet: 'Stable since 1.75.',
          publishedDate: 1735776000000,
          id: 'r1',
          domain: 'blog.rust-lang.org',
          publicDomain: false,
        },
        { title: 'No snippet', url: 'https://example.com/b' },
      ],
      totalResults: 2,
      query: 'rust async traits',
      error: null,
    });
    expect(parseMcpWebSearchResponse(json)).toEqual(RESULTS);
  });

  it('skips results without a url and uses the url as a missing title', () => {
    const json = mcpAnswer({ results: [{ title: 'no url' }, 7, null, { url: 'https://x.test/' }] });
    expect(parseMcpWebSearchResponse(json)).toEqual([{ title: 'https://x.test/', url: 'https://x.test/', snippet: null, publishedDate: null }]);
  });

  it('treats a JSON-RPC error, isError, malformed text or a malformed body as no results', () => {
    expect(parseMcpWebSearchResponse({ error: { code: -32000, message: 'boom' } })).toEqual([]);
    expect(parseMcpWebSearchResponse(mcpAnswer({ results: [{ url: 'https://a' }] }, { isError: true }))).toEqual([]);
    expect(parseMcpWebSearchResponse({ result: { content: [{ type: 'text', text: 'not json' }] } })).toEqual([]);
    expect(parseMcpWebSearchResponse({ result: { content: 'nope' } })).toEqual([]);
    expect(parseMcpWebSearchResponse(mcpAnswer({ results: 'nope' }))).toEqual([]);
    expect(parseMcpWebSearchResponse(null)).toEqual([]);
    expect(parseMcpWebSearchResponse('text')).toEqual([]);
  });
});

describe('webSearchEvents', () => {
  it('produces message_start, intro text, server_tool_use, its result, the summary, message_delta and message_stop', () => {
    const events = webSearchEvents({ model: 'claude-x', query: 'rust async traits', results: RESULTS, inputTokens: 77, messageId: 'msg_w' });
    expect(events[0]).toEqual({
      type: 'message_start',
      message: {
        id: 'msg_w',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-x',
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 77, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    });
    const starts = events.flatMap((e) => (e.type === 'content_block_start' ? [e] : []));
    expect(starts.map((e) => `${e.index}:${e.content_block.type}`)).toEqual([
      '0:text',
      '1:server_tool_use',
      '2:web_search_tool_result',
      '3:text',
    ]);
    expect(deltasOf(events, 0).join('')).toBe('I\'ll search for "rust async traits".');

    const toolUse = starts[1].content_block;
    const result = starts[2].content_block;
    if (toolUse.type !== 'server_tool_use' || result.type !== 'web_search_tool_result') throw new Error('wrong blocks');
    expect(toolUse.id).toMatch(/^srvtoolu_[0-9a-f]{32}$/);
    expect(toolUse.name).toBe('web_search');
    expect(events).toContainEqual({
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"query":"rust async traits"}' },
    });
    expect(result.tool_use_id).toBe(toolUse.id);
    expect(result.content).toEqual([
      {
        type: 'web_search_result',
        title: 'Async fn in traits',
        url: 'https://blog.rust-lang.org/a',
        encrypted_content: 'Stable since 1.75.',
        page_age: 'January 2, 2025',
      },
      { type: 'web_search_result', title: 'No snippet', url: 'https://example.com/b', encrypted_content: '', page_age: null },
    ]);

    const summary = deltasOf(events, 3).join('');
    expect(summary).toContain('1. **Async fn in traits**');
    expect(summary).toContain('Source: https://blog.rust-lang.org/a');
    expect(summary).toContain('2. **No snippet**');

    expect(events.slice(-2)).toEqual([
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 77, output_tokens: expect.any(Number), server_tool_use: { web_search_requests: 1 } },
      },
      { type: 'message_stop' },
    ]);
    // Every block is closed, in order.
    expect(events.flatMap((e) => (e.type === 'content_block_stop' ? [e.index] : []))).toEqual([0, 1, 2, 3]);
  });

  it('sends the summary in deltas of at most 100 characters without splitting a surrogate pair', () => {
    const results: WebSearchResult[] = Array.from({ length: 5 }, (_, i) => ({
      title: `Result ${i} 🦀`.padEnd(97 + i, '🦀'),
      url: `https://example.com/${i}`,
      snippet: '🦀'.repeat(150),
      publishedDate: null,
    }));
    const deltas = deltasOf(webSearchEvents({ model: 'm', query: 'crabs', results, inputTokens: 1 }), 3);
    expect(deltas.length).toBeGreaterThan(5);
    for (const d of deltas) {
      expect(d.length).toBeLessThanOrEqual(100);
      expect(d.length).toBeGreaterThan(0);
      expect(d.charCodeAt(d.length - 1) >= 0xd800 && d.charCodeAt(d.length - 1) <= 0xdbff).toBe(false);
      expect(d.charCodeAt(0) >= 0xdc00 && d.charCodeAt(0) <= 0xdfff).toBe(false);
    }
  });

  it('cuts snippets longer than 200 characters and marks the cut with ...', () => {
    const results: WebSearchResult[] = [{ title: 't', url: 'https://u', snippet: 'a'.repeat(201), publishedDate: null }];
    const summary = deltasOf(webSearchEvents({ model: 'm', query: 'q', results, inputTokens: 1 }), 3).join('');
    expect(summary).toContain('a'.repeat(200) + '...');
    expect(summary).not.toContain('a'.repeat(201));
  });

  it('says so in the summary when there are no results', () => {
    const events = webSearchEvents({ model: 'm', query: 'nothing here', results: [], inputTokens: 1 });
    expect(deltasOf(events, 3).join('')).toContain('No web search results were found for "nothing here"');
    const result = events.find((e) => e.type === 'content_block_start' && e.index === 2);
    expect(result).toMatchObject({ content_block: { type: 'web_search_tool_result', content: [] } });
  });
});
