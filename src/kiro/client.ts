import { randomUUID } from 'node:crypto';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import type { GatewayConfig } from '../config.js';
import type { Credential } from '../credentials/types.js';

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

const KIRO_SDK_VERSION = '1.0.34';
const USAGE_SDK_VERSION = '1.0.0';

/** Resolves the API region as kiro.rs does: credential apiRegion → config apiRegion → config region. */
export function apiRegionFor(cred: Credential, config: GatewayConfig): string {
  return cred.apiRegion || config.apiRegion || config.region || 'us-east-1';
}

/** Replaces `{region}` in a configured upstream URL template. */
export function fillRegion(template: string, region: string): string {
  return template.replaceAll('{region}', region);
}

/** Puts `profileArn` in front of an already serialised Kiro body without re-serialising it. */
export function withProfileArn(serialisedBody: string, profileArn: string | undefined): string {
  if (!profileArn) return serialisedBody;
  return `{"profileArn":${JSON.stringify(profileArn)},${serialisedBody.slice(1)}`;
}

/**
 * HTTP client for the Kiro API: generateAssistantResponse, getUsageLimits and the MCP endpoint.
 * Connections are kept alive (one undici Agent per process, one ProxyAgent per proxy URL).
 */
export class KiroClient {
  private readonly agent: Dispatcher;
  private readonly proxies = new Map<string, Dispatcher>();

  constructor(
    private readonly config: GatewayConfig,
    opts: { dispatcher?: Dispatcher } = {},
  ) {
    this.agent =
      opts.dispatcher ??
      new Agent({
        connections: config.upstream.maxConnections || null,
        connectTimeout: config.upstream.connectTimeoutMs,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        headersTimeout: config.upstream.timeoutMs,
        bodyTimeout: config.upstream.idleTimeoutMs,
      });
  }

  /** Sends a generateAssistantResponse request; `body` is the serialised Kiro body without profileArn. */
  async generate(
    body: string,
    cred: Credential,
    accessToken: string,
    signal: AbortSignal,
  ): Promise<UpstreamResult<UpstreamStream>> {
    const region = apiRegionFor(cred, this.config);
    const url = `${fillRegion(this.config.upstream.apiBaseUrl, region)}/generateAssistantResponse`;
    const headers = this.streamingHeaders(cred, accessToken, region);
    return this.send(url, 'POST', headers, withProfileArn(body, cred.profileArn), cred, signal, true);
  }

  /** Calls the MCP endpoint (web search) with a JSON-RPC body; answers JSON. */
  async mcp(
    rpc: unknown,
    cred: Credential,
    accessToken: string,
    signal: AbortSignal,
  ): Promise<UpstreamResult<string>> {
    const region = apiRegionFor(cred, this.config);
    const url = `${fillRegion(this.config.upstream.apiBaseUrl, region)}/mcp`;
    const headers = this.streamingHeaders(cred, accessToken, region);
    delete headers['x-amzn-codewhisperer-optout'];
    delete headers['x-amzn-kiro-agent-mode'];
    if (cred.profileArn) headers['x-amzn-kiro-profile-arn'] = cred.profileArn;
    const result = await this.send(url, 'POST', headers, JSON.stringify(rpc), cred, signal, false);
    return result as UpstreamResult<string>;
  }

  /** GET getUsageLimits for a credential (protocol §1.3); answers the raw JSON text. */
  async usageLimits(cred: Credential, accessToken: string, signal?: AbortSignal): Promise<UpstreamResult<string>> {
    const region = apiRegionFor(cred, this.config);
    let url = `${fillRegion(this.config.upstream.apiBaseUrl, region)}/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST`;
    if (cred.profileArn) url += `&profileArn=${encodeURIComponent(cred.profileArn)}`;
    const suffix = `KiroIDE-${this.config.kiroVersion}-${cred.machineId}`;
    const headers: Record<string, string> = {
      'x-amz-user-agent': `aws-sdk-js/${USAGE_SDK_VERSION} ${suffix}`,
      'user-agent': `aws-sdk-js/${USAGE_SDK_VERSION} ua/2.1 os/${this.config.systemVersion} lang/js md/nodejs#${this.config.nodeVersion} api/codewhispererruntime#${USAGE_SDK_VERSION} m/N,E ${suffix}`,
      'amz-sdk-invocation-id': randomUUID(),
      'amz-sdk-request': 'attempt=1; max=1',
      authorization: `Bearer ${accessToken}`,
    };
    if (cred.authMethod === 'api_key') headers.tokentype = 'API_KEY';
    const result = await this.send(url, 'GET', headers, undefined, cred, signal ?? new AbortController().signal, false);
    return result as UpstreamResult<string>;
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await Promise.allSettled([this.agent.close(), ...[...this.proxies.values()].map((p) => p.close())]);
  }

  private streamingHeaders(cred: Credential, accessToken: string, _region: string): Record<string, string> {
    const suffix = `KiroIDE-${this.config.kiroVersion}-${cred.machineId}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-codewhisperer-optout': 'true',
      'x-amzn-kiro-agent-mode': 'vibe',
      'x-amz-user-agent': `aws-sdk-js/${KIRO_SDK_VERSION} ${suffix}`,
      'user-agent': `aws-sdk-js/${KIRO_SDK_VERSION} ua/2.1 os/${this.config.systemVersion} lang/js md/nodejs#${this.config.nodeVersion} api/codewhispererstreaming#${KIRO_SDK_VERSION} m/E ${suffix}`,
      'amz-sdk-invocation-id': randomUUID(),
      'amz-sdk-request': 'attempt=1; max=3',
      authorization: `Bearer ${accessToken}`,
    };
    if (cred.authMethod === 'api_key') headers.tokentype = 'API_KEY';
    return headers;
  }

  private dispatcherFor(cred: Credential): Dispatcher {
    const proxyUrl = cred.proxyUrl === 'direct' ? '' : cred.proxyUrl || this.config.proxyUrl;
    if (!proxyUrl) return this.agent;
    const username = cred.proxyUrl ? cred.proxyUsername : this.config.proxyUsername;
    const password = cred.proxyUrl ? cred.proxyPassword : this.config.proxyPassword;
    const key = `${proxyUrl}\u0000${username ?? ''}\u0000${password ?? ''}`;
    let proxy = this.proxies.get(key);
    if (!proxy) {
      const token = username ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` : undefined;
      proxy = new ProxyAgent({ uri: proxyUrl, token });
      this.proxies.set(key, proxy);
    }
    return proxy;
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
        dispatcher: this.dispatcherFor(cred),
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
    return { ok: true, value: { status: res.statusCode, chunks: resume(first, iterator, res.body) } };
  }
}

async function* resume(
  first: IteratorResult<Uint8Array>,
  rest: AsyncIterator<Uint8Array>,
  body: Dispatcher.ResponseData['body'],
): AsyncGenerator<Uint8Array> {
  try {
    if (first.done) return;
    yield first.value;
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
