import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MemoryCredentialStore } from '../../src/store/memory/memory-store.js';
import type { AdminDeps } from '../../src/admin/types.js';
import { SECRETS, seedCredentials } from './fixtures.js';
import {
  ADMIN_KEY,
  NEW_ACCESS_TOKEN,
  adminApp,
  client,
  createStore,
  fakeDeps,
  listen,
  longToken,
  type FakeCalls,
  type FakeOptions,
  type TestServer,
} from './helpers.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let server: TestServer | undefined;
let store: MemoryCredentialStore;
let tmp: string;
let credentialsPath: string;
let calls: FakeCalls;
let deps: AdminDeps;
let api: ReturnType<typeof client>;

async function start(options: FakeOptions = {}): Promise<void> {
  await server?.close();
  credentialsPath = path.join(tmp, `credentials-${Math.random().toString(36).slice(2)}.json`);
  store = await createStore(seedCredentials(), credentialsPath);
  ({ deps, calls } = fakeDeps(store, options));
  server = await listen(adminApp(deps));
  api = client(server.url);
}

/** credentials.json as the store persisted it. */
async function persisted(): Promise<Array<Record<string, unknown>>> {
  return JSON.parse(await readFile(credentialsPath, 'utf8'));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'admin-routes-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));
beforeEach(() => start());
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function expectError(res: { status: number; body: any }, status: number, type: string, message?: string | RegExp) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ type: 'error', error: { type } });
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('authentication', () => {
  it('answers 404 on every admin route when no admin key is configured, naming the setting', async () => {
    for (const key of ['', '   ']) {
      await start({ adminApiKey: key });
      for (const [method, path] of [
        ['GET', '/api/admin/credentials'],
        ['POST', '/api/admin/credentials'],
        ['DELETE', '/api/admin/credentials/1'],
        ['GET', '/api/admin/config/load-balancing'],
        ['GET', '/api/admin/no-such-route'],
      ] as const) {
        const res = await api(method, path, { key: 'anything' });
        expectError(res, 404, 'not_found_error', /admin API is disabled.*adminApiKey.*KIRO_ADMIN_API_KEY/);
      }
    }
  });

  it('rejects a missing, wrong or differently sized key with 401', async () => {
    for (const key of [null, 'wrong', `${ADMIN_KEY}x`, ADMIN_KEY.slice(0, -1), '']) {
      const res = await api('GET', '/api/admin/credentials', { key });
      expectError(res, 401, 'authentication_error', 'Invalid or missing admin API key');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('accepts the key as x-api-key or as a Bearer token (any case of "Bearer")', async () => {
    expect((await api('GET', '/api/admin/credentials')).status).toBe(200);
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await api('GET', '/api/admin/credentials', { key: null, headers: { authorization: `${scheme} ${ADMIN_KEY}` } });
      expect(res.status).toBe(200);
    }
    const bad = await api('GET', '/api/admin/credentials', { key: null, headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    const basic = await api('GET', '/api/admin/credentials', { key: null, headers: { authorization: `Basic ${ADMIN_KEY}` } });
    expect(basic.status).toBe(401);
  });

  it('checks the key before telling whether a route exists', async () => {
    expect((await api('GET', '/api/admin/nope', { key: null })).status).toBe(401);
  });

  it('answers unknown admin routes and wrong methods with a JSON 404', async () => {
    expectError(await api('GET', '/api/admin/nope'), 404, 'not_found_error', /No admin API route/);
    expectError(await api('GET', '/api/admin'), 404, 'not_found_error');
    const wrongMethod = await api('PATCH', '/api/admin/credentials/1/priority', { body: { priority: 1 } });
    expectError(wrongMethod, 404, 'not_found_error', /PATCH is not supported.*POST/);
    expect(wrongMethod.headers.get('allow')).toContain('POST');
  });

  it('leaves paths outside /api/admin alone', async () => {
    const res = await api('GET', '/api/administrator', { key: null });
    expect(res.body.error.message).toBe('outside the admin API');
  });
});

describe('GET /credentials', () => {
  it('lists credentials by priority in kiro.rs shape, with live stats and without secrets', async () => {
    const res = await api('GET', '/api/admin/credentials');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ total: 4, available: 1, currentId: 1 });
    expect(res.body.credentials.map((c: { id: number }) => c.id)).toEqual([1, 2, 3, 4]);

    const [one, two, three] = res.body.credentials;
    expect(one).toMatchObject({
      id: 1,
      priority: 0,
      disabled: false,
      isCurrent: true,
      failureCount: 0,
      expiresAt: '2030-01-01T00:00:00.000Z',
      authMethod: 'social',
      hasProfileArn: true,
      refreshTokenHash: sha256(SECRETS.refresh1),
      apiKeyHash: null,
      maskedApiKey: null,
      fingerprint: sha256(SECRETS.refresh1).slice(0, 8),
      email: 'one@example.com',
      successCount: 5,
      lastUsedAt: '2026-01-01T00:00:00.000Z',
      hasProxy: true,
      proxyUrl: 'http://proxyuser:***@proxy.local:8080/',
      refreshFailureCount: 0,
      endpoint: 'ide',
      failureTotal: 1,
      creditsUsed: 1.2345,
      inFlight: 2,
      lastError: 'upstream said the token *** is invalid',
    });
    expect(one).not.toHaveProperty('disabledReason');
    for (const field of ['refreshToken', 'accessToken', 'clientSecret', 'kiroApiKey', 'proxyPassword', 'clientId', 'machineId']) {
      expect(one).not.toHaveProperty(field);
    }
    expect(two).toMatchObject({
      disabled: true,
      disabledReason: 'QuotaExceeded',
      disabledUntil: '2030-02-01T00:00:00.000Z',
      failureCount: 3,
      refreshFailureCount: 1,
      authMethod: 'idc',
      isCurrent: false,
      cooldownUntil: '2030-01-01T00:00:00.000Z',
      region: 'us-east-2',
    });
    expect(two).not.toHaveProperty('proxyUrl');
    expect(three).toMatchObject({
      authMethod: 'api_key',
      refreshTokenHash: null,
      apiKeyHash: sha256(SECRETS.apiKey3),
      maskedApiKey: 'ksk_...mnop',
      fingerprint: sha256(SECRETS.apiKey3).slice(0, 8),
      disabledReason: 'Manual',
      endpoint: 'cli',
      creditsUsed: 0,
    });
  });

  it('reports the pool’s current credential when the pool says which one it is', async () => {
    await start({ currentId: () => 3 });
    const res = await api('GET', '/api/admin/credentials');
    expect(res.body.currentId).toBe(3);
    expect(res.body.credentials.filter((c: { isCurrent: boolean }) => c.isCurrent).map((c: { id: number }) => c.id)).toEqual([3]);
  });

  it('reports no current credential when all are disabled', async () => {
    await api('POST', '/api/admin/credentials/1/disabled', { body: { disabled: true } });
    const res = await api('GET', '/api/admin/credentials');
    expect(res.body).toMatchObject({ available: 0, currentId: null });
  });
});

describe('POST /credentials', () => {
  const social = (tag: string, extra: object = {}) => ({ refreshToken: longToken(tag), email: 'new@example.com', ...extra });

  it('validates with a token refresh, stores the tokens it returns, assigns max id + 1 and learns the subscription', async () => {
    const request = social('NEW-SOCIAL', { priority: 3, region: 'eu-west-1', proxyUrl: 'socks5://127.0.0.1:1080' });
    const res = await api('POST', '/api/admin/credentials', { body: request });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, credentialId: 5, email: 'new@example.com' });
    expect(res.body.message).toMatch(/added/);

    expect(calls.validated).toHaveLength(1);
    expect(calls.validated[0]).toMatchObject({ authMethod: 'social', refreshToken: request.refreshToken, disabled: false });
    const stored = store.get(5)!.credential;
    expect(stored).toMatchObject({
      id: 5,
      authMethod: 'social',
      refreshToken: request.refreshToken,
      accessToken: NEW_ACCESS_TOKEN,
      priority: 3,
      region: 'eu-west-1',
      proxyUrl: 'socks5://127.0.0.1:1080',
      email: 'new@example.com',
      disabled: false,
      subscriptionTitle: 'KIRO PRO+',
      machineId: sha256(`KotlinNativeAPI/${request.refreshToken}`),
    });
    expect(calls.balances).toEqual([{ id: 5, fresh: true }]);
    expect((await persisted()).find((e) => e.id === 5)).toMatchObject({ refreshToken: request.refreshToken, priority: 3 });
  });

  it('still adds the credential when the balance query fails, and says so', async () => {
    await start({ balanceFails: [5] });
    const res = await api('POST', '/api/admin/credentials', { body: social('NEW-NOBAL') });
    expect(res.status).toBe(200);
    expect(res.body.message).toMatch(/subscription not known yet/);
    expect(store.get(5)?.credential.subscriptionTitle).toBeUndefined();
  });

  it('canonicalizes authMethod aliases and infers idc and api_key', async () => {
    const idc = await api('POST', '/api/admin/credentials', {
      body: social('NEW-IDC', { authMethod: 'Builder-ID', clientId: 'cid', clientSecret: 'csecret' }),
    });
    expect(idc.status).toBe(200);
    expect(store.get(idc.body.credentialId)?.credential.authMethod).toBe('idc');

    const inferredIdc = await api('POST', '/api/admin/credentials', {
      body: social('NEW-IDC2', { clientId: 'cid', clientSecret: 'csecret' }),
    });
    expect(store.get(inferredIdc.body.credentialId)?.credential.authMethod).toBe('idc');

    const key = await api('POST', '/api/admin/credentials', { body: { kiroApiKey: 'ksk_new_key_0123456789abcdef' } });
    expect(key.status).toBe(200);
    const stored = store.get(key.body.credentialId)!.credential;
    expect(stored.authMethod).toBe('api_key');
    expect(stored.machineId).toBe(sha256('KiroAPIKey/ksk_new_key_0123456789abcdef'));
    expect(key.body).not.toHaveProperty('email');
  });

  it('stores the endpoint a credential is added with, and lists the configured default for one without', async () => {
    const cli = await api('POST', '/api/admin/credentials', { body: social('NEW-CLI', { endpoint: 'cli' }) });
    expect(cli.status).toBe(200);
    expect(store.get(cli.body.credentialId)?.credential.endpoint).toBe('cli');
    const key = await api('POST', '/api/admin/credentials', { body: { kiroApiKey: 'ksk_cli_key_0123456789abcdef', endpoint: 'ide' } });
    expect(store.get(key.body.credentialId)?.credential.endpoint).toBe('ide');

    await start({ defaultEndpoint: 'cli' });
    const listed = (await api('GET', '/api/admin/credentials')).body.credentials as Array<{ id: number; endpoint: string }>;
    // Credential 1 names no endpoint (the default applies); 3 names cli itself.
    expect(listed.map((c) => [c.id, c.endpoint])).toEqual([
      [1, 'cli'],
      [2, 'cli'],
      [3, 'cli'],
      [4, 'cli'],
    ]);
  });

  it('normalizes a UUID machine id and falls back to the configured one', async () => {
    const uuid = await api('POST', '/api/admin/credentials', {
      body: social('NEW-UUID', { machineId: '12345678-9ABC-DEF0-1234-56789ABCDEF0' }),
    });
    expect(store.get(uuid.body.credentialId)?.credential.machineId).toBe('123456789abcdef0123456789abcdef0'.repeat(2));

    await start({ configMachineId: 'b'.repeat(64) });
    const res = await api('POST', '/api/admin/credentials', { body: social('NEW-CFG') });
    expect(store.get(res.body.credentialId)?.credential.machineId).toBe('b'.repeat(64));
  });

  it.each([
    ['a missing refresh token', {}, /refreshToken.*required/],
    ['an empty refresh token', { refreshToken: '   ' }, /refreshToken.*required/],
    ['a short refresh token', { refreshToken: 'short' }, /truncated/],
    ['a refresh token with "..."', { refreshToken: `${longToken('X')}...` }, /truncated/],
    ['a non-string refresh token', { refreshToken: 123 }, /"refreshToken" must be a string/],
    ['an unknown authMethod', { refreshToken: longToken('A'), authMethod: 'password' }, /authMethod/],
    ['idc without client secret', { refreshToken: longToken('B'), authMethod: 'idc', clientId: 'x' }, /clientSecret/],
    ['api_key without the key', { authMethod: 'api_key' }, /kiroApiKey.*required/],
    ['a string priority', { refreshToken: longToken('C'), priority: '1' }, /priority/],
    ['a negative priority', { refreshToken: longToken('D'), priority: -1 }, /priority/],
    ['a fractional priority', { refreshToken: longToken('E'), priority: 1.5 }, /priority/],
    ['a numeric email', { refreshToken: longToken('F'), email: 5 }, /"email" must be a string/],
    ['a bad machine id', { refreshToken: longToken('G'), machineId: 'xyz' }, /machineId/],
    ['an unsupported proxy scheme', { refreshToken: longToken('H'), proxyUrl: 'ftp://proxy:21' }, /proxyUrl/],
    ['a proxy URL that is not a URL', { refreshToken: longToken('I'), proxyUrl: 'not a url' }, /proxyUrl/],
    ['an unknown endpoint', { refreshToken: longToken('J'), endpoint: 'kiro-cli' }, /"endpoint" must be one of ide, cli \(got 'kiro-cli'\)/],
    ['an endpoint in the wrong case', { refreshToken: longToken('K'), endpoint: 'CLI' }, /"endpoint" must be one of ide, cli/],
  ])('rejects %s with 400 and adds nothing', async (_name, body, message) => {
    const res = await api('POST', '/api/admin/credentials', { body });
    expectError(res, 400, 'invalid_request_error', message);
    expect(store.list()).toHaveLength(4);
    expect(calls.validated).toHaveLength(0);
  });

  it.each([
    ['truncated JSON', '{"refreshToken":', /not valid JSON \(truncated\)/],
    ['invalid JSON', '{"refreshToken": tok}', /^Request body is not valid JSON$/],
    ['JSON with a trailing comma', '{"a":1,}', /not valid JSON \(at character 7\)/],
    ['an empty body', '', /must be a JSON object/],
    ['a JSON array', '[]', /must be a JSON object/],
    ['a JSON string', '"token"', /must be a JSON object/],
    ['JSON null', 'null', /must be a JSON object/],
  ])('rejects %s with 400', async (_name, raw, message) => {
    expectError(await api('POST', '/api/admin/credentials', { raw }), 400, 'invalid_request_error', message);
  });

  it('rejects a body over the size limit with 413', async () => {
    const res = await api('POST', '/api/admin/credentials', { body: { refreshToken: 'x'.repeat(200_000) } });
    expectError(res, 413, 'request_too_large');
  });

  it('rejects a duplicate refresh token or API key (compared by SHA-256) without calling the upstream', async () => {
    const dupToken = await api('POST', '/api/admin/credentials', { body: { refreshToken: SECRETS.refresh1 } });
    expectError(dupToken, 400, 'invalid_request_error', /Duplicate credential/);
    const dupKey = await api('POST', '/api/admin/credentials', { body: { kiroApiKey: SECRETS.apiKey3 } });
    expectError(dupKey, 400, 'invalid_request_error', /Duplicate credential/);
    expect(calls.validated).toHaveLength(0);
    expect(store.list()).toHaveLength(4);
  });

  it('answers 400 when the upstream rejects the credential, without echoing the token', async () => {
    const token = longToken('REJECT-ME');
    const res = await api('POST', '/api/admin/credentials', { body: { refreshToken: token } });
    expectError(res, 400, 'invalid_request_error', /rejected by the upstream: upstream answered 401/);
    expect(res.text).not.toContain(token);
    expect(store.list()).toHaveLength(4);
  });

  it('answers 502 when the validation cannot reach the upstream', async () => {
    const res = await api('POST', '/api/admin/credentials', { body: { refreshToken: longToken('NETFAIL') } });
    expectError(res, 502, 'api_error', /ECONNREFUSED/);
    expect(store.list()).toHaveLength(4);
  });
});

describe('id validation', () => {
  const routes: Array<[string, (id: string) => string, object | undefined]> = [
    ['DELETE', (id) => `/api/admin/credentials/${id}`, undefined],
    ['POST', (id) => `/api/admin/credentials/${id}/disabled`, { disabled: true }],
    ['POST', (id) => `/api/admin/credentials/${id}/priority`, { priority: 1 }],
    ['POST', (id) => `/api/admin/credentials/${id}/reset`, undefined],
    ['POST', (id) => `/api/admin/credentials/${id}/refresh`, undefined],
    ['GET', (id) => `/api/admin/credentials/${id}/balance`, undefined],
  ];

  it('answers 400 for ids that are not non-negative integers, on every route', async () => {
    for (const [method, path, body] of routes) {
      for (const id of ['abc', '-1', '1.5', '1e3', '0x1', '%20', '99999999999999999999']) {
        const res = await api(method, path(id), { body });
        expectError(res, 400, 'invalid_request_error', /expected a non-negative integer/);
      }
    }
  });

  it('answers 404 for unknown ids, on every route', async () => {
    for (const [method, path, body] of routes) {
      for (const id of ['0', '42']) {
        expectError(await api(method, path(id), { body }), 404, 'not_found_error', `Credential ${id} not found`);
      }
    }
    expect(calls.refreshed).toEqual([]);
    expect(calls.balances).toEqual([]);
  });
});

describe('DELETE /credentials/:id', () => {
  it('refuses to delete an enabled credential', async () => {
    expectError(await api('DELETE', '/api/admin/credentials/1'), 400, 'invalid_request_error', /disable it before deleting/);
    expect(store.get(1)).toBeDefined();
  });

  it('deletes a disabled credential', async () => {
    const res = await api('DELETE', '/api/admin/credentials/3');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: 'Credential 3 deleted' });
    expect(store.get(3)).toBeUndefined();
    expect((await persisted()).map((e) => e.id)).toEqual([1, 2, 4]);
    const list = await api('GET', '/api/admin/credentials');
    expect(list.body.total).toBe(3);
  });
});

describe('POST /credentials/:id/disabled', () => {
  it('disables with reason Manual and enables with counters reset', async () => {
    const off = await api('POST', '/api/admin/credentials/1/disabled', { body: { disabled: true } });
    expect(off.body).toEqual({ success: true, message: 'Credential 1 disabled' });
    expect(store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'Manual' });
    expect((await persisted()).find((e) => e.id === 1)).toMatchObject({ disabled: true });

    const on = await api('POST', '/api/admin/credentials/2/disabled', { body: { disabled: false } });
    expect(on.status).toBe(200);
    const two = store.get(2)!;
    expect(two.credential.disabled).toBe(false);
    expect(two.credential).not.toHaveProperty('disabledReason');
    expect(two.credential).not.toHaveProperty('disabledUntil');
    expect(two.stats).toMatchObject({ failureCount: 0, refreshFailureCount: 0, failureTotal: 7 });

    const list = await api('GET', '/api/admin/credentials');
    expect(list.body.credentials.find((c: { id: number }) => c.id === 1).disabledReason).toBe('Manual');
  });

  it('refuses to enable a credential disabled for invalid configuration', async () => {
    const res = await api('POST', '/api/admin/credentials/4/disabled', { body: { disabled: false } });
    expectError(res, 400, 'invalid_request_error', /configuration is invalid/);
    expect(store.get(4)?.credential.disabled).toBe(true);
  });

  it.each([
    ['a string', { body: { disabled: 'yes' } }],
    ['a number', { body: { disabled: 1 } }],
    ['no field', { body: {} }],
    ['no body', {}],
    ['invalid JSON', { raw: '{disabled:true}' }],
    ['an array', { body: [true] }],
  ])('rejects %s with 400', async (_name, options) => {
    expectError(await api('POST', '/api/admin/credentials/1/disabled', options), 400, 'invalid_request_error');
    expect(store.get(1)?.credential.disabled).toBe(false);
  });
});

describe('POST /credentials/:id/priority', () => {
  it('changes the priority and the list order', async () => {
    const res = await api('POST', '/api/admin/credentials/4/priority', { body: { priority: 0 } });
    expect(res.body).toEqual({ success: true, message: 'Priority of credential 4 set to 0' });
    await api('POST', '/api/admin/credentials/1/priority', { body: { priority: 9 } });
    const list = await api('GET', '/api/admin/credentials');
    expect(list.body.credentials.map((c: { id: number }) => c.id)).toEqual([4, 2, 3, 1]);
    expect((await persisted()).find((e) => e.id === 1)).toMatchObject({ priority: 9 });
  });

  it.each([[-1], [1.5], ['2'], [null], [true], [1e9]])('rejects priority %j with 400', async (priority) => {
    const res = await api('POST', '/api/admin/credentials/1/priority', { body: { priority } });
    expectError(res, 400, 'invalid_request_error', /"priority" must be an integer/);
    expect(store.get(1)?.credential.priority).toBe(0);
  });

  it('rejects a missing priority and a missing body with 400', async () => {
    expectError(await api('POST', '/api/admin/credentials/1/priority', { body: {} }), 400, 'invalid_request_error', /required/);
    expectError(await api('POST', '/api/admin/credentials/1/priority'), 400, 'invalid_request_error', /JSON object/);
  });
});

describe('POST /credentials/:id/reset', () => {
  it('resets the failure counters and enables the credential', async () => {
    const res = await api('POST', '/api/admin/credentials/2/reset');
    expect(res.body).toEqual({ success: true, message: 'Credential 2 reset and enabled' });
    const two = store.get(2)!;
    expect(two.credential.disabled).toBe(false);
    expect(two.credential).not.toHaveProperty('disabledReason');
    expect(two.stats).toMatchObject({ failureCount: 0, refreshFailureCount: 0 });
    expect(two.stats.cooldownUntil).toBeUndefined();
  });

  it('refuses to reset a credential disabled for invalid configuration', async () => {
    expectError(await api('POST', '/api/admin/credentials/4/reset'), 400, 'invalid_request_error', /configuration is invalid/);
  });
});

describe('POST /credentials/:id/refresh', () => {
  it('refreshes the token of an OAuth credential', async () => {
    const res = await api('POST', '/api/admin/credentials/1/refresh');
    expect(res.body).toEqual({ success: true, message: 'Token of credential 1 refreshed' });
    expect(calls.refreshed).toEqual([1]);
    expect(store.get(1)?.credential.accessToken).toBe('SECRET-ACCESS-REFRESHED-1');
  });

  it('refuses to refresh an API-key credential', async () => {
    expectError(await api('POST', '/api/admin/credentials/3/refresh'), 400, 'invalid_request_error', /API key/);
    expect(calls.refreshed).toEqual([]);
  });

  it('answers 502 when the refresh fails upstream, with secrets redacted from the message', async () => {
    const res = await api('POST', '/api/admin/credentials/2/refresh');
    expectError(res, 502, 'api_error', /Token refresh of credential 2 failed: refresh failed: upstream 500 for token \*\*\*/);
    expect(res.text).not.toContain(SECRETS.refresh2);
  });
});

describe('GET /credentials/:id/balance', () => {
  it('returns the balance in kiro.rs shape and remembers the subscription title', async () => {
    const res = await api('GET', '/api/admin/credentials/1/balance');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: 1,
      subscriptionTitle: 'KIRO PRO+',
      currentUsage: 12.37,
      usageLimit: 1100,
      remaining: 1087.63,
      usagePercentage: 1.12,
      nextResetAt: 1767225600,
    });
    expect(calls.balances).toEqual([{ id: 1, fresh: false }]);
    expect(store.get(1)?.credential.subscriptionTitle).toBe('KIRO PRO+');
  });

  it('bypasses the cache with ?refresh=1', async () => {
    await api('GET', '/api/admin/credentials/1/balance?refresh=1');
    expect(calls.balances).toEqual([{ id: 1, fresh: true }]);
  });

  it('answers 502 when the upstream fails', async () => {
    await start({ balanceFails: [1] });
    expectError(await api('GET', '/api/admin/credentials/1/balance'), 502, 'api_error', /balance of credential 1.*503/);
  });
});

describe('load-balancing config', () => {
  it('reads and changes the mode', async () => {
    expect((await api('GET', '/api/admin/config/load-balancing')).body).toEqual({ mode: 'priority' });
    const put = await api('PUT', '/api/admin/config/load-balancing', { body: { mode: 'balanced' } });
    expect(put.body).toEqual({ mode: 'balanced' });
    expect(calls.modes).toEqual(['balanced']);
    expect((await api('GET', '/api/admin/config/load-balancing')).body).toEqual({ mode: 'balanced' });
  });

  it.each([
    ['an unknown mode', { body: { mode: 'random' } }],
    ['a differently cased mode', { body: { mode: 'Balanced' } }],
    ['a number', { body: { mode: 1 } }],
    ['no field', { body: {} }],
    ['no body', {}],
    ['invalid JSON', { raw: 'mode=balanced' }],
  ])('rejects %s with 400', async (_name, options) => {
    const res = await api('PUT', '/api/admin/config/load-balancing', options);
    expectError(res, 400, 'invalid_request_error');
    expect(calls.modes).toEqual([]);
  });
});

describe('GET /cluster', () => {
  it('lists the replicas and which one answered', async () => {
    const res = await api('GET', '/api/admin/cluster');
    expect(res.status).toBe(200);
    expect(res.body.answeredBy).toBe('replica-a');
    expect(res.body.replicas).toEqual([
      { id: 'replica-a', lastSeen: expect.any(String), inFlight: 2, self: true },
      { id: 'replica-b', lastSeen: expect.any(String), inFlight: 3, self: false },
    ]);
  });

  it('answers 502 when the replicas cannot be listed', async () => {
    await start({ replicasFail: true });
    expectError(await api('GET', '/api/admin/cluster'), 502, 'api_error', /redis unreachable/);
  });
});
