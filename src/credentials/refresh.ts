/**
 * Access-token refresh for OAuth credentials (docs/kiro-protocol.md §2): the social flow (Kiro
 * desktop auth service) and the IdC flow (AWS SSO OIDC CreateToken). Pure HTTP: deciding *when* to
 * refresh, locking and storing the result belong to the pool.
 */
import { randomUUID } from 'node:crypto';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { Agent, ProxyAgent, request, Socks5ProxyAgent, type AgentOptions, type Dispatcher } from '../http/undici.js';
import { withRegion, type GatewayConfig } from '../config.js';
import { ApiError, GatewayError, InvalidRequestError } from '../errors.js';
import type { Credential } from './types.js';

/** New token material; absent fields keep their old values (§2.2 update rules). */
export interface RefreshResult {
  accessToken: string;
  refreshToken?: string;
  profileArn?: string;
  /** RFC 3339; only when the service answered `expiresIn`. */
  expiresAt?: string;
}

/**
 * Why a refresh failed. `invalid_grant` and `invalid_token_format` are permanent (the refresh token
 * will never work); `network` means no HTTP answer at all; `rejected` is any other non-2xx.
 */
export type RefreshErrorKind =
  | 'invalid_grant'
  | 'unauthorized'
  | 'rate_limited'
  | 'server'
  | 'network'
  | 'invalid_token_format'
  | 'rejected';

/** A failed refresh. The message never contains a token. */
export class RefreshError extends Error {
  readonly kind: RefreshErrorKind;
  /** HTTP status of the auth service, when it answered. */
  readonly status?: number;

  constructor(kind: RefreshErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RefreshError';
    this.kind = kind;
    this.status = options.status;
  }

  /** The refresh token is unusable for good: retrying cannot help. */
  get permanent(): boolean {
    return this.kind === 'invalid_grant' || this.kind === 'invalid_token_format';
  }
}

/** Kiro IDE sometimes stores truncated refresh tokens; real ones are far longer (§2.1). */
export const MIN_REFRESH_TOKEN_LENGTH = 100;
/** A refresh should answer in well under this; longer means the auth service is in trouble. */
export const REFRESH_TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_REGION = 'us-east-1';
const OIDC_SDK_VERSION = '3.980.0';

/** Auth region (§2.1): credential authRegion → credential region → config authRegion → config region. */
export function authRegionFor(cred: Pick<Credential, 'authRegion' | 'region'>, config: Pick<GatewayConfig, 'authRegion' | 'region'>): string {
  return cred.authRegion || cred.region || config.authRegion || config.region || DEFAULT_REGION;
}

/** Throws `invalid_token_format` for a missing, short or `...`-truncated refresh token. */
export function validateRefreshToken(token: string | undefined): asserts token is string {
  if (!token) throw new RefreshError('invalid_token_format', 'refresh token is missing');
  if (token.length < MIN_REFRESH_TOKEN_LENGTH || token.includes('...')) {
    throw new RefreshError('invalid_token_format', 'refresh token is truncated (shorter than 100 characters or contains "...")');
  }
}

/**
 * Keep-alive dispatchers for upstream calls: one Agent for direct connections and one proxy agent
 * per distinct proxy. A credential's `proxyUrl` wins over the global one; `direct` means none.
 */
export class UpstreamDispatchers {
  private readonly direct: Dispatcher;
  private readonly fixed: boolean;
  private readonly proxies = new Map<string, Dispatcher>();

  constructor(
    private readonly config: GatewayConfig,
    opts: { dispatcher?: Dispatcher; agent?: AgentOptions } = {},
  ) {
    this.fixed = opts.dispatcher !== undefined;
    this.direct =
      opts.dispatcher ??
      new Agent({ connectTimeout: config.upstream.connectTimeoutMs, keepAliveTimeout: 30_000, ...opts.agent });
  }

  /** The dispatcher for this credential's calls (an injected dispatcher is used for everything). */
  for(cred: Pick<Credential, 'proxyUrl' | 'proxyUsername' | 'proxyPassword'>): Dispatcher {
    if (this.fixed) return this.direct;
    const own = cred.proxyUrl;
    if (own === 'direct') return this.direct;
    const url = own || this.config.proxyUrl;
    if (!url) return this.direct;
    const username = own ? cred.proxyUsername : this.config.proxyUsername;
    const password = own ? cred.proxyPassword : this.config.proxyPassword;
    const key = `${url}\u0000${username ?? ''}\u0000${password ?? ''}`;
    let proxy = this.proxies.get(key);
    if (!proxy) {
      proxy = createProxyAgent(url, username, password, this.config.upstream.connectTimeoutMs);
      this.proxies.set(key, proxy);
    }
    return proxy;
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    await Promise.allSettled([this.direct.close(), ...[...this.proxies.values()].map((p) => p.close())]);
  }
}

function createProxyAgent(url: string, username: string | undefined, password: string | undefined, connectTimeout: number): Dispatcher {
  const parsed = new URL(url);
  if (parsed.protocol === 'socks5:' || parsed.protocol === 'socks5h:' || parsed.protocol === 'socks:') {
    parsed.protocol = 'socks5:';
    return new Socks5ProxyAgent(parsed, { username: username || undefined, password: password || undefined, connectTimeout });
  }
  const token = username ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` : undefined;
  return new ProxyAgent({ uri: url, token, connectTimeout });
}

interface TokenResponse {
  accessToken?: unknown;
  refreshToken?: unknown;
  profileArn?: unknown;
  expiresIn?: unknown;
}

/**
 * Refreshes OAuth access tokens over keep-alive HTTP.
 *
 * @example
 * const refresher = new TokenRefresher(config);
 * const { accessToken, expiresAt } = await refresher.refresh(cred, signal);
 */
export class TokenRefresher {
  private readonly dispatchers: UpstreamDispatchers;
  private readonly now: () => number;

  constructor(
    private readonly config: GatewayConfig,
    opts: { dispatcher?: Dispatcher; now?: () => number } = {},
  ) {
    this.dispatchers = new UpstreamDispatchers(config, opts);
    this.now = opts.now ?? Date.now;
  }

  /**
   * Exchanges the credential's refresh token for a new access token (social or IdC flow by
   * `authMethod`). Throws {@link RefreshError}, or `signal.reason` when `signal` aborts.
   */
  async refresh(cred: Credential, signal?: AbortSignal): Promise<RefreshResult> {
    if (cred.authMethod === 'api_key') {
      throw new RefreshError('invalid_token_format', 'API-key credentials have no token to refresh');
    }
    validateRefreshToken(cred.refreshToken);
    const region = authRegionFor(cred, this.config);
    let url: string;
    let headers: Record<string, string>;
    let body: Record<string, string>;
    if (cred.authMethod === 'idc') {
      if (!cred.clientId || !cred.clientSecret) {
        throw new RefreshError('invalid_token_format', 'IdC credential lacks clientId or clientSecret');
      }
      url = withRegion(this.config.upstream.idcRefreshUrl, region);
      headers = {
        'content-type': 'application/json',
        'x-amz-user-agent': `aws-sdk-js/${OIDC_SDK_VERSION} KiroIDE`,
        'user-agent': `aws-sdk-js/${OIDC_SDK_VERSION} ua/2.1 os/${this.config.systemVersion} lang/js md/nodejs#${this.config.nodeVersion} api/sso-oidc#${OIDC_SDK_VERSION} m/E KiroIDE`,
        'amz-sdk-invocation-id': randomUUID(),
        'amz-sdk-request': 'attempt=1; max=4',
      };
      body = { clientId: cred.clientId, clientSecret: cred.clientSecret, refreshToken: cred.refreshToken, grantType: 'refresh_token' };
    } else {
      url = withRegion(this.config.upstream.socialRefreshUrl, region);
      headers = {
        accept: 'application/json, text/plain, */*',
        'content-type': 'application/json',
        'user-agent': `KiroIDE-${this.config.kiroVersion}-${cred.machineId}`,
        'accept-encoding': 'gzip, deflate, br',
      };
      body = { refreshToken: cred.refreshToken };
    }
    const started = this.now();
    const text = await this.post(url, headers, JSON.stringify(body), cred, signal);
    return this.parse(text, started);
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.dispatchers.close();
  }

  private async post(url: string, headers: Record<string, string>, body: string, cred: Credential, signal?: AbortSignal): Promise<string> {
    const timeout = AbortSignal.timeout(REFRESH_TIMEOUT_MS);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Dispatcher.ResponseData;
    let raw: Buffer;
    try {
      res = await request(url, { method: 'POST', headers, body, signal: combined, dispatcher: this.dispatchers.for(cred) });
      raw = await readLimited(res.body);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const reason = timeout.aborted ? `timed out after ${REFRESH_TIMEOUT_MS} ms` : describeNetworkError(err);
      throw new RefreshError('network', `token refresh request failed: ${reason}`, { cause: err });
    }
    let text: string;
    try {
      text = decode(raw, res.headers['content-encoding']);
    } catch (err) {
      throw new RefreshError('server', 'token refresh answer could not be decompressed', { status: res.statusCode, cause: err });
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return text;
    throw classify(res.statusCode, text, cred);
  }

  private parse(text: string, started: number): RefreshResult {
    let json: TokenResponse;
    try {
      json = JSON.parse(text) as TokenResponse;
    } catch {
      throw new RefreshError('server', 'token refresh answer is not JSON');
    }
    if (typeof json?.accessToken !== 'string' || json.accessToken === '') {
      throw new RefreshError('server', 'token refresh answer has no accessToken');
    }
    const result: RefreshResult = { accessToken: json.accessToken };
    if (typeof json.refreshToken === 'string' && json.refreshToken !== '') result.refreshToken = json.refreshToken;
    if (typeof json.profileArn === 'string' && json.profileArn !== '') result.profileArn = json.profileArn;
    if (typeof json.expiresIn === 'number' && Number.isFinite(json.expiresIn)) {
      result.expiresAt = new Date(started + json.expiresIn * 1000).toISOString();
    }
    return result;
  }
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy();
      throw new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function decode(raw: Buffer, encoding: string | string[] | undefined): string {
  const enc = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? '')).trim().toLowerCase();
  if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(raw).toString('utf8');
  if (enc === 'deflate') return inflateSync(raw).toString('utf8');
  if (enc === 'br') return brotliDecompressSync(raw).toString('utf8');
  return raw.toString('utf8');
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message ?? String(err);
}

/**
 * A short, secret-free summary of an error body: the error/message fields of a JSON answer, or the
 * start of a text answer with long token-like runs elided, and the credential's own secrets removed.
 */
export function summarizeErrorBody(body: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let summary = '';
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const parts = ['error', 'error_description', 'message', 'reason', '__type']
      .map((k) => json?.[k])
      .filter((v): v is string => typeof v === 'string' && v !== '');
    summary = parts.join(': ');
  } catch {
    // not JSON
  }
  if (!summary) summary = body.trim();
  for (const secret of secrets) if (secret && secret.length >= 8) summary = summary.replaceAll(secret, '***');
  summary = summary.replace(/[A-Za-z0-9+/=_-]{40,}/g, '…');
  return summary.length > 200 ? `${summary.slice(0, 200)}…` : summary;
}

function classify(status: number, body: string, cred: Credential): RefreshError {
  const summary = summarizeErrorBody(body, [cred.refreshToken, cred.accessToken, cred.clientSecret]);
  const message = `token refresh failed with HTTP ${status}${summary ? `: ${summary}` : ''}`;
  // OAuth's invalid_grant means the grant is invalid, expired or revoked: it will never work again.
  if (status >= 400 && status < 500 && body.includes('invalid_grant')) return new RefreshError('invalid_grant', message, { status });
  if (status === 401 || status === 403) return new RefreshError('unauthorized', message, { status });
  if (status === 429) return new RefreshError('rate_limited', message, { status });
  if (status >= 500) return new RefreshError('server', message, { status });
  return new RefreshError('rejected', message, { status });
}

/**
 * Maps a refresh failure for the admin API: the auth service rejecting the credential becomes a
 * 4xx (InvalidRequestError), the service or the network failing becomes a 502 ApiError.
 */
export function refreshErrorToGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof RefreshError && err.kind !== 'network' && err.kind !== 'server') {
    return new InvalidRequestError(err.message, { cause: err });
  }
  return new ApiError(err instanceof RefreshError ? err.message : 'token refresh failed', { status: 502, cause: err });
}
