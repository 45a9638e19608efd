import { request, type Dispatcher } from '../http/undici.js';
import { UpstreamEventStream, type UpstreamResult, type UpstreamStreamOptions } from './upstream-stream.js';
import { UpstreamDispatchers } from '../credentials/refresh.js';
import { withRegion } from '../config.js';
import type { GatewayConfig } from '../config.js';
import type { Credential } from '../credentials/types.js';
import { endpointOf, generateCall, MCP_PATH, mcpHeaders } from './endpoint.js';
import type { WireBody } from './wire-body.js';

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
  private readonly bases = new Map<string, { origin: string; pathPrefix: string }>();

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

  /**
   * Sends a generateAssistantResponse request on the credential's wire (`ide` or `cli`) and settles
   * once its answer can be classified: an error status, a network failure (no first event within
   * `opts.firstByteTimeoutMs` included), or a stream whose first events arrived (upstream-stream.ts).
   */
  generate(body: WireBody, cred: Credential, accessToken: string, opts: UpstreamStreamOptions): Promise<UpstreamResult<UpstreamEventStream>> {
    const endpoint = endpointOf(cred, this.config);
    const { path, headers } = generateCall(endpoint, cred, accessToken, this.config);
    const base = this.base(cred);
    const call = new UpstreamEventStream(opts);
    try {
      this.dispatchers.for(cred).dispatch(
        {
          origin: base.origin,
          path: `${base.pathPrefix}${path}`,
          method: 'POST',
          headers,
          body: body.bytes(endpoint, cred.profileArn),
          headersTimeout: this.config.upstream.timeoutMs,
          bodyTimeout: this.config.upstream.idleTimeoutMs,
        },
        call,
      );
    } catch (networkError) {
      call.close();
      return Promise.resolve({ ok: false, networkError });
    }
    return call.opened;
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
    return this.send(url, 'POST', headers, JSON.stringify(rpc), cred, signal);
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.dispatchers.close();
  }

  private baseUrl(cred: Credential): string {
    return withRegion(this.config.upstream.apiBaseUrl, apiRegionFor(cred, this.config));
  }

  /** The API base URL of a credential as dispatch wants it (origin, path prefix), parsed once per URL. */
  private base(cred: Credential): { origin: string; pathPrefix: string } {
    const url = this.baseUrl(cred);
    let parsed = this.bases.get(url);
    if (!parsed) {
      const u = new URL(url);
      parsed = { origin: u.origin, pathPrefix: u.pathname.replace(/\/$/, '') };
      this.bases.set(url, parsed);
    }
    return parsed;
  }

  private async send(
    url: string,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body: string | undefined,
    cred: Credential,
    signal: AbortSignal,
  ): Promise<UpstreamResult<string>> {
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
    try {
      return { ok: true, value: await res.body.text() };
    } catch (networkError) {
      return { ok: false, networkError };
    }
  }
}
