/**
 * Secret scan: seeds credentials with known secret values, drives every admin route (successes
 * and failures), and asserts that no response body contains any of the secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, seedCredentials } from './fixtures.js';
import { adminApp, createStore, client, fakeDeps, listen, longToken, NEW_ACCESS_TOKEN, type TestServer } from './helpers.js';

const ADDED = {
  refreshToken: longToken('SECRET-ADDED-REFRESH'),
  clientSecret: 'SECRET-ADDED-CLIENT-SECRET',
  proxyPassword: 'SECRET-ADDED-PROXY-PASSWORD',
  proxyUrlPassword: 'SECRET-ADDED-URL-PASSWORD',
  apiKey: 'ksk_SECRET-ADDED-API-KEY-0123456789',
  rejected: longToken('SECRET-REJECT'),
};

const ALL_SECRETS = [...Object.values(SECRETS), ...Object.values(ADDED), NEW_ACCESS_TOKEN, 'SECRET-ACCESS-REFRESHED-1'];

let server: TestServer;
const bodies: string[] = [];
let api: ReturnType<typeof client>;

beforeAll(async () => {
  const store = await createStore(seedCredentials());
  server = await listen(adminApp(fakeDeps(store).deps));
  api = client(server.url, bodies);
});
afterAll(() => server.close());

describe('admin responses never contain a secret', () => {
  it('holds over every route, including failures', async () => {
    const snapshot = () => api('GET', '/api/admin/credentials');
    await snapshot();
    const added = await api('POST', '/api/admin/credentials', {
      body: {
        authMethod: 'idc',
        refreshToken: ADDED.refreshToken,
        clientId: 'client',
        clientSecret: ADDED.clientSecret,
        proxyUrl: `socks5://user:${ADDED.proxyUrlPassword}@127.0.0.1:1080`,
        proxyUsername: 'user',
        proxyPassword: ADDED.proxyPassword,
      },
    });
    expect(added.status).toBe(200);
    expect((await api('POST', '/api/admin/credentials', { body: { kiroApiKey: ADDED.apiKey } })).status).toBe(200);
    // Failures that quote the secret they were given.
    await api('POST', '/api/admin/credentials', { body: { refreshToken: ADDED.rejected } });
    await api('POST', '/api/admin/credentials', { body: { refreshToken: SECRETS.refresh1 } });
    await api('POST', '/api/admin/credentials', { body: { refreshToken: `${SECRETS.refresh1}...` } });
    await api('POST', '/api/admin/credentials', { raw: `{"refreshToken":"${SECRETS.refresh1}"` });
    await api('POST', '/api/admin/credentials', { raw: `{"refreshToken":${SECRETS.refresh1}}` });
    await api('POST', '/api/admin/credentials', { raw: `{"refreshToken":"${SECRETS.refresh1}",}` });
    await api('POST', '/api/admin/credentials', { raw: `${SECRETS.clientSecret2}` });
    await snapshot();

    for (const id of [1, 2, 3, 4, 5, 6]) {
      await api('GET', `/api/admin/credentials/${id}/balance`);
      await api('GET', `/api/admin/credentials/${id}/balance?refresh=1`);
      await api('POST', `/api/admin/credentials/${id}/refresh`);
      await api('POST', `/api/admin/credentials/${id}/priority`, { body: { priority: id } });
      await api('POST', `/api/admin/credentials/${id}/disabled`, { body: { disabled: true } });
      await snapshot();
      await api('POST', `/api/admin/credentials/${id}/reset`);
      await api('POST', `/api/admin/credentials/${id}/disabled`, { body: { disabled: false } });
      await snapshot();
    }
    await api('GET', '/api/admin/config/load-balancing');
    await api('PUT', '/api/admin/config/load-balancing', { body: { mode: 'balanced' } });
    await api('GET', '/api/admin/cluster');
    await api('GET', '/api/admin/nope');
    await api('GET', '/api/admin/credentials', { key: SECRETS.refresh1 });
    await api('POST', '/api/admin/credentials/1/disabled', { body: { disabled: true } });
    await api('DELETE', '/api/admin/credentials/1');
    await snapshot();

    expect(bodies.length).toBeGreaterThan(60);
    // The refreshed access token and the URL-embedded proxy passwords were really in the store.
    const joined = bodies.join('\n');
    for (const secret of ALL_SECRETS) {
      expect(joined.includes(secret), `a response contains ${secret.slice(0, 24)}…`).toBe(false);
    }
    // Every seeded secret contains this marker, so even a partial quote of one would show up.
    expect(joined).not.toContain('SECRET');
    // And the scan is not vacuous: the credentials did show up.
    expect(joined).toContain('refreshTokenHash');
    expect(joined).toContain('user:***@127.0.0.1:1080');
  });
});
