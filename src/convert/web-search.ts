/**
 * Web search through Kiro's MCP endpoint (docs/kiro-protocol.md §4.10): the JSON-RPC request, a
 * tolerant parse of its answer, and the synthesized Anthropic event sequence (the model itself is
 * not called for a web-search request).
 */

import { randomBytes, randomUUID } from 'node:crypto';
import type { StreamEvent } from '../anthropic/types.js';

/** One search hit, as Kiro's MCP `web_search` tool reports it. */
export interface WebSearchResult {
  title: string;
  url: string;
  snippet: string | null;
  /** Epoch milliseconds. */
  publishedDate: number | null;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomFrom(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  let s = '';
  // The modulo bias is irrelevant for a request id.
  for (let i = 0; i < length; i++) s += alphabet[bytes[i] % alphabet.length];
  return s;
}

/**
 * The JSON-RPC `tools/call` body for the MCP endpoint; `id` has the shape the Kiro IDE uses
 * (`web_search_tooluse_<22 alnum>_<unix ms>_<8 lower-alnum>`).
 */
export function buildMcpWebSearchRequest(query: string): { id: string; body: unknown } {
  const id = `web_search_tooluse_${randomFrom(ALNUM, 22)}_${Date.now()}_${randomFrom(LOWER_ALNUM, 8)}`;
  return {
    id,
    body: { id, jsonrpc: '2.0', method: 'tools/call', params: { name: 'web_search', arguments: { query } } },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toResult(raw: unknown): WebSearchResult | null {
  if (!isRecord(raw) || typeof raw.url !== 'string' || raw.url.length === 0) return null;
  return {
    title: typeof raw.title === 'string' && raw.title.length > 0 ? raw.title : raw.url,
    url: raw.url,
    snippet: typeof raw.snippet === 'string' ? raw.snippet : null,
    publishedDate: typeof raw.publishedDate === 'number' && Number.isFinite(raw.publishedDate) ? raw.publishedDate : null,
  };
}

/**
 * Extracts the results from an MCP answer. Tolerant by design: a JSON-RPC error, `isError`, a
 * malformed body or non-JSON text all mean "no results" (the reference still answers 200).
 */
export function parseMcpWebSearchResponse(json: unknown): WebSearchResult[] {
  if (!isRecord(json) || json.error != null || !isRecord(json.result)) return [];
  const { content, isError } = json.result;
  if (isError === true || !Array.isArray(content)) return [];
  const results: WebSearchResult[] = [];
  for (const item of content) {
    if (!isRecord(item) || item.type !== 'text' || typeof item.text !== 'string') continue;
    let payload: unknown;
    try {
      payload = JSON.parse(item.text);
    } catch {
      continue;
    }
    if (!isRecord(payload) || !Array.isArray(payload.results)) continue;
    for (const raw of payload.results) {
      const r = toResult(raw);
      if (r) results.push(r);
    }
  }
  return results;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** `page_age` as the reference writes it: "January 2, 2025" (UTC). */
function pageAge(ms: number | null): string | null {
  if (ms === null) return null;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return null;
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}`;
}

/** End of the piece of `s` starting at `start`, at most `max` UTF-16 units, not splitting a surrogate pair. */
function pieceEnd(s: string, start: number, max: number): number {
  const end = start + max;
  if (end >= s.length) return s.length;
  const c = s.charCodeAt(end - 1);
  return c >= 0xd800 && c <= 0xdbff ? end - 1 : end;
}

const SNIPPET_MAX = 200;
/** Summary text is streamed in deltas of at most this many UTF-16 units, as the reference does. */
const DELTA_MAX = 100;

function summarize(query: string, results: readonly WebSearchResult[]): string {
  if (results.length === 0) return `No web search results were found for "${query}".`;
  let s = `Here are the web search results for "${query}":\n`;
  results.forEach((r, i) => {
    s += `\n${i + 1}. **${r.title}**\n`;
    if (r.snippet) {
      const snippet = r.snippet.length > SNIPPET_MAX ? r.snippet.substring(0, pieceEnd(r.snippet, 0, SNIPPET_MAX)) + '...' : r.snippet;
      s += `   ${snippet}\n`;
    }
    s += `   Source: ${r.url}\n`;
  });
  return s;
}

/**
 * The complete event sequence answering a web-search request (§4.10): an intro text block, a
 * `server_tool_use` block, the `web_search_tool_result` block referencing it, the summary text in
 * ≤100-unit deltas, then `message_delta` (end_turn, `server_tool_use.web_search_requests: 1`) and
 * `message_stop`. The query reaches the `server_tool_use` block as an `input_json_delta`, as
 * Anthropic's API streams it.
 */
export function webSearchEvents(opts: {
  model: string;
  query: string;
  results: readonly WebSearchResult[];
  inputTokens: number;
  /** Defaults to a fresh `msg_<32 hex>`. */
  messageId?: string;
}): StreamEvent[] {
  const { model, query, results, inputTokens } = opts;
  const toolUseId = 'srvtoolu_' + randomUUID().replaceAll('-', '');
  const intro = `I'll search for "${query}".`;
  const summary = summarize(query, results);

  const events: StreamEvent[] = [
    {
      type: 'message_start',
      message: {
        id: opts.messageId ?? 'msg_' + randomUUID().replaceAll('-', ''),
        type: 'message',
        role: 'assistant',
        content: [],
        model,
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: intro } },
    { type: 'content_block_stop', index: 0 },
    {
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'server_tool_use', id: toolUseId, name: 'web_search', input: {} },
    },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: JSON.stringify({ query }) } },
    { type: 'content_block_stop', index: 1 },
    {
      type: 'content_block_start',
      index: 2,
      content_block: {
        type: 'web_search_tool_result',
        tool_use_id: toolUseId,
        content: results.map((r) => ({
          type: 'web_search_result',
          title: r.title,
          url: r.url,
          encrypted_content: r.snippet ?? '',
          page_age: pageAge(r.publishedDate),
        })),
      },
    },
    { type: 'content_block_stop', index: 2 },
    { type: 'content_block_start', index: 3, content_block: { type: 'text', text: '' } },
  ];
  for (let at = 0; at < summary.length; ) {
    const end = pieceEnd(summary, at, DELTA_MAX);
    events.push({ type: 'content_block_delta', index: 3, delta: { type: 'text_delta', text: summary.substring(at, end) } });
    at = end;
  }
  events.push(
    { type: 'content_block_stop', index: 3 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        input_tokens: inputTokens,
        output_tokens: Math.ceil((intro.length + summary.length) / 4),
        server_tool_use: { web_search_requests: 1 },
      },
    },
    { type: 'message_stop' },
  );
  return events;
}
