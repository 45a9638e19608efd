import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type GatewayConfig } from '../../src/config.js';
import { authRegionFor, RefreshError, summarizeErrorBody, TokenRefresher } from '../../src/credentials/refresh.js';
import type { Credential } from '../../src/credentials/types.js';
import { startConnectProxy, type TestProxy } from '../helpers/proxies.js';

const REFRESH = 'aorA' + 'R'.repeat(140);
const MACHINE = 'cd'.repeat(32);

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

let server: Server;
let base = '';
let handler: Handler;
let seen: Seen[] = [];
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handler(s, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

afterEach(() => {
  seen = [];
});

function config(env: Record<string, string> = {}): GatewayConfig {
  return loadConfig({
    argv: [],
    env: {
      KIRO_CLIENT_API_KEY: 'k',
      KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${base}/social/{region}/refreshToken`,
      KIRO_UPSTREAM_IDC_REFRESH_URL: `${base}/oidc/{region}/token`,
      KIRO_SYSTEM_VERSION: 'darwin#24.6.0',
      ...env,
    },
  });
}

function social(extra: Partial<Credential> = {}): Credential {
  return { id: 1, authMethod: 'social', refreshToken: REFRESH, priority: 0, machineId: MACHINE, disabled: false, ...extra };
}

function idc(extra: Partial<Credential> = {}): Credential {
  return social({ authMethod: 'idc', clientId: 'client-id', clientSecret: 'client-secret-value', ...extra });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

describe('TokenRefresher social flow', () => {
  it('posts the refresh token with the Kiro IDE headers and applies the answer', async () => {
    handler = (_req, res) => json(res, 200, { accessToken: 'new-at', refreshToken: 'new-rt', profileArn: 'arn:aws:codewhisperer:us-east-1:1:profile/X', expiresIn: 3600 });
    const now = Date.parse('2026-01-01T00:00:00.000Z');
    const refresher = new TokenRefresher(config(), { now: () => now });
    const result = await refresher.refresh(social());
    expect(result).toEqual({
      accessToken: 'new-at',
      refreshToken: 'new-rt',
      profileArn: 'arn:aws:codewhisperer:us-east-1:1:profile/X',
      expiresAt: '2026-01-01T01:00:00.000Z',
    });
    const req = seen[0];
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/social/us-east-1/refreshToken');
    expect(JSON.parse(req.body)).toEqual({ refreshToken: REFRESH });
    expect(req.headers['user-agent']).toBe(`KiroIDE-0.11.107-${MACHINE}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.accept).toBe('application/json, text/plain, */*');
    await refresher.close();
  });

  it('keeps absent fields absent and decompresses gzip answers', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ accessToken: 'only-at' })));
    };
    const refresher = new TokenRefresher(config());
    expect(await refresher.refresh(social())).toEqual({ accessToken: 'only-at' });
    await refresher.close();
  });

  it('reuses one keep-alive connection for consecutive refreshes', async () => {
    handler = (_req, res) => json(res, 200, { accessToken: 'at', expiresIn: 3600 });
    const refresher = new TokenRefresher(config());
    const before = connections;
    for (let i = 0; i < 3; i++) {
      await refresher.refresh(social());
      // undici frees the socket a tick after the body ends; back-to-back calls may open a second one.
      await new Promise((r) => setImmediate(r));
    }
    expect(connections - before).toBe(1);
    await refresher.close();
  });
});

describe('TokenRefresher IdC flow', () => {
  it('posts camelCase CreateToken fields with the SSO OIDC headers', async () => {
    handler = (_req, res) => json(res, 200, { accessToken: 'idc-at', refreshToken: 'idc-rt', expiresIn: 28800, tokenType: 'Bearer' });
    const refresher = new TokenRefresher(config());
    const result = await refresher.refresh(idc({ region: 'eu-central-1' }));
    expect(result.accessToken).toBe('idc-at');
    expect(result.refreshToken).toBe('idc-rt');
    const req = seen[0];
    expect(req.url).toBe('/oidc/eu-central-1/token');
    expect(JSON.parse(req.body)).toEqual({
      clientId: 'client-id',
      clientSecret: 'client-secret-value',
      refreshToken: REFRESH,
      grantType: 'refresh_token',
    });
    expect(req.headers['x-amz-user-agent']).toBe('aws-sdk-js/3.980.0 KiroIDE');
    expect(req.headers['user-agent']).toBe(
      'aws-sdk-js/3.980.0 ua/2.1 os/darwin#24.6.0 lang/js md/nodejs#22.22.0 api/sso-oidc#3.980.0 m/E KiroIDE',
    );
    expect(req.headers['amz-sdk-request']).toBe('attempt=1; max=4');
    expect(req.headers['amz-sdk-invocation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(req.headers)).not.toContain(MACHINE);
    await refresher.close();
  });

  it('fails without a request when clientId or clientSecret is missing', async () => {
    const refresher = new TokenRefresher(config());
    await expect(refresher.refresh(idc({ clientSecret: undefined }))).rejects.toMatchObject({ kind: 'invalid_token_format' });
    expect(seen).toHaveLength(0);
  });
});

describe('authRegionFor', () => {
  it('resolves credential authRegion, credential region, config authRegion, config region', () => {
    const cfg = { authRegion: 'ca-central-1', region: 'us-west-2' };
    expect(authRegionFor({ authRegion: 'a', region: 'b' }, cfg)).toBe('a');
    expect(authRegionFor({ region: 'b' }, cfg)).toBe('b');
    expect(authRegionFor({}, cfg)).toBe('ca-central-1');
    expect(authRegionFor({}, { authRegion: '', region: 'us-west-2' })).toBe('us-west-2');
    expect(authRegionFor({}, { authRegion: '', region: '' })).toBe('us-east-1');
  });

  it('puts the auth region into the refresh URL', async () => {
    handler = (_req, res) => json(res, 200, { accessToken: 'at' });
    const refresher = new TokenRefresher(config({ KIRO_AUTH_REGION: 'ap-northeast-1', KIRO_REGION: 'eu-west-1' }));
    await refresher.refresh(social());
    await refresher.refresh(social({ authRegion: 'us-west-2', region: 'eu-west-3' }));
    expect(seen.map((s) => s.url)).toEqual(['/social/ap-northeast-1/refreshToken', '/social/us-west-2/refreshToken']);
    await refresher.close();
  });
});

describe('TokenRefresher errors', () => {
  it('rejects truncated refresh tokens before any request', async () => {
    const refresher = new TokenRefresher(config());
    await expect(refresher.refresh(social({ refreshToken: 'short' }))).rejects.toMatchObject({ kind: 'invalid_token_format' });
    await expect(refresher.refresh(social({ refreshToken: REFRESH + '...' }))).rejects.toMatchObject({ kind: 'invalid_token_format' });
    await expect(refresher.refresh(social({ refreshToken: undefined }))).rejects.toThrow(/missing/);
    expect(seen).toHaveLength(0);
  });

  it.each([
    [400, { error: 'invalid_grant', error_description: 'Invalid refresh token provided' }, 'invalid_grant'],
    [401, { message: 'Unauthorized' }, 'unauthorized'],
    [403, { message: 'Forbidden' }, 'unauthorized'],
    [429, { message: 'Too many requests' }, 'rate_limited'],
    [503, { message: 'Service unavailable' }, 'server'],
    [404, { message: 'Not found' }, 'rejected'],
    [400, { error: 'invalid_request' }, 'rejected'],
  ] as const)('classifies HTTP %i %j as %s', async (status, body, kind) => {
    handler = (_req, res) => json(res, status, body);
    const refresher = new TokenRefresher(config());
    const err = await refresher.refresh(social()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefreshError);
    expect(err).toMatchObject({ kind, status });
    await refresher.close();
  });

  it('never puts a token into the error message, even when the service echoes it', async () => {
    handler = (req, res) => json(res, 401, { message: `bad token ${JSON.parse(req.body).refreshToken} for client ${'client-secret-value'}` });
    const refresher = new TokenRefresher(config());
    const err = (await refresher.refresh(idc({ accessToken: 'old-access-token-value' })).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('HTTP 401');
    expect(err.message).not.toContain(REFRESH.slice(0, 30));
    expect(err.message).not.toContain('client-secret-value');
    await refresher.close();
  });

  it('treats a 2xx answer without accessToken as a server error', async () => {
    handler = (_req, res) => json(res, 200, { refreshToken: 'x' });
    const refresher = new TokenRefresher(config());
    await expect(refresher.refresh(social())).rejects.toMatchObject({ kind: 'server' });
    await refresher.close();
  });

  it('reports a refused connection as a network error', async () => {
    const refresher = new TokenRefresher(config({ KIRO_UPSTREAM_SOCIAL_REFRESH_URL: 'http://127.0.0.1:1/refreshToken' }));
    await expect(refresher.refresh(social())).rejects.toMatchObject({ kind: 'network' });
    await refresher.close();
  });

  it("rejects with the caller's abort reason when the signal aborts", async () => {
    handler = () => {
      /* never answers */
    };
    const refresher = new TokenRefresher(config());
    const ac = new AbortController();
    const reason = new Error('client went away');
    const pending = refresher.refresh(social(), ac.signal);
    setTimeout(() => ac.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
    await refresher.close();
  });
});

describe('TokenRefresher proxies', () => {
  let proxy: TestProxy;
  let proxyUrl = '';
  let tunnels: string[] = [];

  beforeAll(async () => {
    proxy = await startConnectProxy();
    proxyUrl = proxy.url;
    tunnels = proxy.tunnels;
  });

  afterAll(() => proxy.close());

  afterEach(() => {
    tunnels.length = 0;
  });

  it("goes through the credential's proxy, the global one, or none for `direct`", async () => {
    handler = (_req, res) => json(res, 200, { accessToken: 'at' });
    const refresher = new TokenRefresher(config({ KIRO_PROXY_URL: proxyUrl }));
    await refresher.refresh(social({ proxyUrl: 'direct' }));
    expect(tunnels).toHaveLength(0);
    await refresher.refresh(social());
    expect(tunnels).toHaveLength(1);
    await refresher.close();

    const own = new TokenRefresher(config());
    await own.refresh(social({ proxyUrl }));
    expect(tunnels).toHaveLength(2);
    expect(seen).toHaveLength(3);
    await own.close();
  });
});

describe('summarizeErrorBody', () => {
  it('keeps error fields, elides token-like runs and caps the length', () => {
    expect(summarizeErrorBody('{"error":"invalid_grant","error_description":"Invalid refresh token provided"}')).toBe(
      'invalid_grant: Invalid refresh token provided',
    );
    expect(summarizeErrorBody(`token ${'A'.repeat(60)} rejected`)).toBe('token … rejected');
    expect(summarizeErrorBody('x '.repeat(300)).length).toBeLessThanOrEqual(201);
  });
});
