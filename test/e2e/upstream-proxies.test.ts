/**
 * Credentials behind forward proxies, as kiro.rs configures them (`proxyUrl` per credential or
 * globally, `direct` to opt out; http and socks5 with a login): the token refresh and the streamed
 * Kiro call both go through the real proxy, and a refused proxy login ends as a clear error, not a
 * hang or a lost credential. The proxy agents come from undici's own files (src/http/undici.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startConnectProxy, startSocks5Proxy, type TestProxy } from '../helpers/proxies.js';
import { API_KEY, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';

const ask = { model: 'claude-sonnet-4-5-20250929', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };
const LOGIN = { username: 'proxy-user', password: 'proxy-pass-0123' };

describe('upstream calls through forward proxies', () => {
  let http: TestProxy;
  let socks: Awaited<ReturnType<typeof startSocks5Proxy>>;
  let stack: Stack | undefined;

  beforeAll(async () => {
    http = await startConnectProxy();
    socks = await startSocks5Proxy(LOGIN);
  });
  afterAll(async () => {
    await http.close();
    await socks.close();
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    http.tunnels.length = 0;
    socks.tunnels.length = 0;
  });

  const simTarget = () => new URL(stack!.sim.url).host;
  const calls = (path: string) => stack!.sim.stats.requests.filter((r) => r.path === path);

  it('streams an answer through a credential’s SOCKS5 proxy with a login: refresh and Kiro call both tunnelled', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('socks'), authMethod: 'social', proxyUrl: socks.url, proxyUsername: LOGIN.username, proxyPassword: LOGIN.password }],
    });
    const stream = stack.client.messages.stream(ask);
    const text = await stream.finalText();
    expect(text.length).toBeGreaterThan(0);
    expect((await stream.finalMessage()).stop_reason).toBe('end_turn');
    expect(calls('/refreshToken')).toHaveLength(1);
    expect(calls('/generateAssistantResponse')).toHaveLength(1);
    expect(socks.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(new Set(socks.tunnels)).toEqual(new Set([simTarget()]));
    expect(http.tunnels).toEqual([]);
  });

  it('uses the global HTTP proxy, and none for a credential marked `direct`', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('global'), authMethod: 'social', priority: 0 }],
      env: { KIRO_PROXY_URL: http.url },
    });
    await stack.client.messages.create(ask);
    expect(http.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(new Set(http.tunnels)).toEqual(new Set([simTarget()]));
    await stack.close();

    http.tunnels.length = 0;
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('direct'), authMethod: 'social', proxyUrl: 'direct' }],
      env: { KIRO_PROXY_URL: http.url },
    });
    await stack.client.messages.create(ask);
    expect(http.tunnels).toEqual([]);
  });

  it('a refused proxy login ends the request with an error status, and the credential is kept', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('badlogin'), authMethod: 'social', proxyUrl: socks.url, proxyUsername: LOGIN.username, proxyPassword: 'wrong-password' }],
      env: { KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '1000' },
    });
    const refusedBefore = socks.refusedLogins;
    const res = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...ask, stream: true }),
    });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toMatch(/token refresh failed.*SOCKS5_AUTH/);
    expect(socks.refusedLogins).toBeGreaterThan(refusedBefore);
    expect(calls('/refreshToken')).toHaveLength(0);
    // Kept: a refresh that could not reach the auth service is not the refresh token's fault.
    const [row] = stack.gateway.store.list();
    expect(row!.credential.refreshToken).toBe(refreshTokenFor('badlogin'));
    expect(row!.credential.disabled ?? false).toBe(false);
  });
});
