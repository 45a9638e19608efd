import { request, type Dispatcher } from 'undici';
import { UpstreamDispatchers } from '../credentials/refresh.js';
import { withRegion } from '../config.js';
import type { GatewayConfig } from '../config.js';
import type { Credential } from '../credentials/types.js';
import { endpointOf, generateCall, MCP_PATH, mcpHeaders } from './endpoint.js';
import type { WireBody } from './wire-body.js';

/** What one upstream attempt produced, in the shape the credential pool classifies (protocol §9.2). */
export type UpstreamResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; body: string }
  | { ok: false; networkError: unknown };

/**
 * A 200 response whose first chunk has already arrived. Waiting for it means a connection that dies
 * before sending anything is still a retryable failure (the client has seen nothing yet).
 */
export interface UpstreamStream {
  /** All body chunks, the first one included. */
  chunks: AsyncIterable<Uint8Array>;
  status: number;
}

/** Resolves the API region as kiro.rs does: credential apiRegion → config apiRegion → config region. */
export function apiRegionFor(cred: Credential, config: GatewayConfig): string {
  return cred.apiRegion || config.apiRegion || config.region || 'us-east-1';
}

/**
 * Connections per upstream origin. Every stream holds one connection for its whole life, so a
 * smaller pool than the admission limit would queue requests inside undici, silently, with no
 * answer to the client: the pool is never smaller than `admission.maxConcurrentUpstream` (web
 * search goes through admission too; balance look-ups and refreshes have dispatchers of their own).
 */
export function upstreamConnections(config: Pick<GatewayConfig, 'upstream' | 'admission'>): number | null {
  const own = config.upstream.maxConnections;
  const admitted = config.admission.maxConcurrentUpstream;
  if (own <= 0 || admitted <= 0) return null;
  return Math.max(own, admitted);
}

/**
 * HTTP client for the Kiro API: generateAssistantResponse and the MCP endpoint (getUsageLimits lives in BalanceService).
 * Connections are kept alive (one undici Agent per process, one ProxyAgent per proxy URL).
 */
export class KiroClient {
  private readonly dispatchers: UpstreamDispatchers;

  constructor(
    private readonly config: GatewayConfig,
    opts: { dispatcher?: Dispatcher } = {},
  ) {
    this.dispatchers = new UpstreamDispatchers(config, {
      dispatcher: opts.dispatcher,
      agent: {
        connections: upstreamConnections(config),
        keepAliveMaxTimeout: 600_000,
        headersTimeout: config.upstream.timeoutMs,
        bodyTimeout: config.upstream.idleTimeoutMs,
      },
    });
  }

  /** Sends a generateAssistantResponse request on the credential's wire (`ide` or `cli`). */
  async generate(
    body: WireBody,
    cred: Credential,
    accessToken: string,
    signal: AbortSignal,
  ): Promise<UpstreamResult<UpstreamStream>> {
    const endpoint = endpointOf(cred, this.config);
    const { path, headers } = generateCall(endpoint, cred, accessToken, this.config);
    const url = `${this.baseUrl(cred)}${path}`;
    const result = await this.send(url, 'POST', headers, body.text(endpoint, cred.profileArn), cred, signal, true);
    return result as UpstreamResult<UpstreamStream>;
  }

  /** Calls the MCP endpoint (web search) with a JSON-RPC body; answers JSON. */
  async mcp(
    rpc: unknown,
    cred: Credential,
    accessToken: string,
    signal: AbortSignal,
  ): Promise<UpstreamResult<string>> {
    const url = `${this.baseUrl(cred)}${MCP_PATH}`;
    const headers = mcpHeaders(endpointOf(cred, this.config), cred, accessToken, this.config);
    const result = await this.send(url, 'POST', headers, JSON.stringify(rpc), cred, signal, false);
    return result as UpstreamResult<string>;
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.dispatchers.close();
  }

  private baseUrl(cred: Credential): string {
    return withRegion(this.config.upstream.apiBaseUrl, apiRegionFor(cred, this.config));
  }

  private async send(
    url: string,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body: string | undefined,
    cred: Credential,
    signal: AbortSignal,
    streaming: boolean,
  ): Promise<UpstreamResult<UpstreamStream | string>> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers,
        body,
        signal,
        dispatcher: this.dispatchers.for(cred),
        headersTimeout: this.config.upstream.timeoutMs,
        bodyTimeout: this.config.upstream.idleTimeoutMs,
      });
    } catch (networkError) {
      return { ok: false, networkError };
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      let text = '';
      try {
        text = await res.body.text();
      } catch {
        // the status alone still classifies the failure
      }
      return { ok: false, status: res.statusCode, body: text };
    }
    if (!streaming) {
      try {
        return { ok: true, value: await res.body.text() };
      } catch (networkError) {
        return { ok: false, networkError };
      }
    }
    const iterator = res.body[Symbol.asyncIterator]();
    let first: IteratorResult<Uint8Array>;
    try {
      first = await iterator.next();
    } catch (networkError) {
      return { ok: false, networkError };
    }
    // Kiro always sends at least its metering/context frames: an empty 200 is a broken answer, and
    // nothing has reached the client yet, so it is retried like a dropped connection.
    if (first.done) return { ok: false, networkError: new Error('upstream answered 200 with an empty body') };
    return { ok: true, value: { status: res.statusCode, chunks: resume(first, iterator, res.body) } };
  }
}

async function* resume(
  first: IteratorResult<Uint8Array>,
  rest: AsyncIterator<Uint8Array>,
  body: Dispatcher.ResponseData['body'],
): AsyncGenerator<Uint8Array> {
  try {
    if (!first.done) yield first.value;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Stops the socket read when the consumer leaves early (client gone, converter finished).
    if (!body.destroyed) body.destroy();
  }
}
