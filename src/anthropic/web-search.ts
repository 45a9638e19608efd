import type { MessagesRequest } from './types.js';
import { sendJson, type Exchange } from '../http/exchange.js';
import type { ConvertedRequest } from '../convert/request.js';
import { buildMcpWebSearchRequest, parseMcpWebSearchResponse, webSearchEvents, type WebSearchResult } from '../convert/web-search.js';
import { encodeSseEvents, SSE_HEADERS } from '../convert/sse.js';
import { collectMessage } from '../convert/message.js';
import { midStreamError } from '../errors.js';
import type { CredentialPool } from '../credentials/pool.js';
import type { KiroClient } from '../kiro/client.js';
import type { CredentialRecord } from '../credentials/types.js';

/** What a web search needs: a credential and the MCP endpoint. */
export interface WebSearchDeps {
  pool: CredentialPool;
  client: KiroClient;
}

/**
 * Claude Code's web search (a request whose only tool is `web_search`) is answered from Kiro's MCP
 * endpoint instead of the model, as kiro.rs does (protocol §4.10). An MCP failure means "no results".
 */
export async function handleWebSearch(
  exchange: Exchange,
  deps: WebSearchDeps,
  request: MessagesRequest,
  converted: ConvertedRequest,
  signal: AbortSignal,
  /** Only these credentials may serve it (a client key's pinned credentials). */
  accepts?: (record: CredentialRecord) => boolean,
): Promise<void> {
  const query = converted.webSearch!.query;
  const rpc = buildMcpWebSearchRequest(query);
  let results: WebSearchResult[] = [];
  try {
    const { value, lease } = await deps.pool.execute({ kiroModelId: converted.kiroModelId, signal, accepts }, (l) =>
      deps.client.mcp(rpc.body, l.credential, l.accessToken, signal),
    );
    lease.release();
    results = parseMcpWebSearchResponse(JSON.parse(value));
  } catch (err) {
    if (signal.aborted) return;
    exchange.log?.warn({ err: (err as Error).message }, 'web search failed; answering without results');
  }
  const events = webSearchEvents({ model: request.model, query, results, inputTokens: converted.inputTokensEstimate });
  if (request.stream) {
    const text = encodeSseEvents(events);
    exchange.res.writeHead(200, { ...SSE_HEADERS, 'content-length': String(Buffer.byteLength(text)) });
    exchange.res.end(text);
    return;
  }
  const collected = collectMessage(events);
  if ('error' in collected) throw midStreamError(collected.error);
  sendJson(exchange.res, 200, collected.message);
}
