import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { generate, kiroBody, refresh, refreshToken } from './helpers.js';

const INVALID_GRANT = expect.objectContaining({ error: 'invalid_grant', message: 'Invalid refresh token provided' });

async function idcRefresh(sim: Simulator, body: Record<string, unknown>) {
  const res = await request(`${sim.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

async function generateStatus(sim: Simulator, bearer: string): Promise<{ status: number; body: any }> {
  const res = await generate(sim, bearer, kiroBody('hi'));
  const text = await res.body.text();
  return { status: res.statusCode, body: res.headers['content-type'] === 'application/json' ? JSON.parse(text) : undefined };
}

describe('token refresh', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('answers the social flow with accessToken, refreshToken, profileArn and expiresIn', async () => {
    const token = refreshToken('social');
    const { status, body } = await refresh(sim, token);
    expect(status).toBe(200);
    expect(body).toEqual({
      accessToken: expect.any(String),
      refreshToken: token,
      profileArn: expect.stringMatching(/^arn:aws:codewhisperer:/),
      expiresIn: 3600,
    });
    expect((await generateStatus(sim, body.accessToken)).status).toBe(200);
  });

  it('answers the IdC flow with accessToken, refreshToken, expiresIn and tokenType', async () => {
    const token = refreshToken('idc');
    const { status, body } = await idcRefresh(sim, { clientId: 'c', clientSecret: 's', refreshToken: token, grantType: 'refresh_token' });
    expect(status).toBe(200);
    expect(body).toEqual({ accessToken: expect.any(String), refreshToken: token, expiresIn: 3600, tokenType: 'Bearer' });
  });

  it('rejects IdC bodies without client credentials or with another grant type', async () => {
    const token = refreshToken('idc-bad');
    expect((await idcRefresh(sim, { refreshToken: token, grantType: 'refresh_token' })).status).toBe(400);
    const wrongGrant = await idcRefresh(sim, { clientId: 'c', clientSecret: 's', refreshToken: token, grant_type: 'refresh_token' });
    expect(wrongGrant).toEqual({ status: 400, body: expect.objectContaining({ error: 'unsupported_grant_type' }) });
  });

  it('refuses refresh tokens shorter than 100 characters with invalid_grant', async () => {
    expect(await refresh(sim, 'short...')).toEqual({ status: 400, body: INVALID_GRANT });
  });

  it('keeps the refresh token valid when rotation is off', async () => {
    const token = refreshToken('stable');
    expect((await refresh(sim, token)).status).toBe(200);
    expect((await refresh(sim, token)).status).toBe(200);
    expect(sim.stats.byAccount[token].refresh).toBe(2);
  });
});

describe('refresh token rotation', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator({ rotateRefreshTokens: true });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('returns a new refresh token and retires the old one', async () => {
    const first = refreshToken('rotating');
    const a = await refresh(sim, first);
    expect(a.status).toBe(200);
    expect(a.body.refreshToken).not.toBe(first);
    expect(a.body.refreshToken.length).toBeGreaterThanOrEqual(100);
    expect(await refresh(sim, first)).toEqual({ status: 400, body: INVALID_GRANT });
    const b = await refresh(sim, a.body.refreshToken);
    expect(b.status).toBe(200);
    expect(sim.stats.byAccount[first].refresh).toBe(3);
  });

  it('lets only one of two parallel refreshes with the same token win', async () => {
    const token = refreshToken('parallel');
    const results = await Promise.all([refresh(sim, token), refresh(sim, token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it('leaves an account whose behaviour says rotateRefreshTokens: false unrotated', async () => {
    const token = refreshToken('kept');
    sim.setAccount(token, { rotateRefreshTokens: false });
    expect((await refresh(sim, token)).body.refreshToken).toBe(token);
    expect((await refresh(sim, token)).status).toBe(200);
  });

  it('keeps account behaviour attached to the account across rotations', async () => {
    const first = refreshToken('follow');
    const { body } = await refresh(sim, first);
    sim.setAccount(first, { mode: 'refresh-500' });
    expect((await refresh(sim, body.refreshToken)).status).toBe(500);
  });
});

describe('account behaviours', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator();
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  async function login(tag: string): Promise<{ token: string; bearer: string }> {
    const token = refreshToken(tag);
    const { body } = await refresh(sim, token);
    return { token, bearer: body.accessToken };
  }

  it('answers 429 for the next N calls only, then streams again', async () => {
    const { token, bearer } = await login('limited');
    sim.setAccount(token, { mode: 'rate-limit-429', times: 2 });
    expect((await generateStatus(sim, bearer)).status).toBe(429);
    expect((await generateStatus(sim, bearer)).status).toBe(429);
    expect((await generateStatus(sim, bearer)).status).toBe(200);
    expect(sim.stats.byAccount[token].generate).toBe(3);
  });

  it.each([
    ['quota-402', 402, { message: 'You have reached the limit.', reason: 'MONTHLY_REQUEST_COUNT' }],
    ['suspended-403', 403, expect.objectContaining({ message: expect.stringContaining('temporarily is suspended') })],
    ['invalid-token-403', 403, { message: 'The bearer token included in the request is invalid.', reason: null }],
    ['server-error-500', 500, expect.objectContaining({ reason: null })],
    ['server-error-503', 503, expect.objectContaining({ reason: null })],
  ] as const)('answers %s with status %i and Kiro’s body', async (mode, status, body) => {
    const { token, bearer } = await login(mode);
    sim.setAccount(token, { mode });
    expect(await generateStatus(sim, bearer)).toEqual({ status, body });
  });

  it('fails refreshes with invalid_grant or 500 in the refresh modes, leaving API calls alone', async () => {
    const { token, bearer } = await login('refresh-modes');
    sim.setAccount(token, { mode: 'refresh-invalid-grant' });
    expect(await refresh(sim, token)).toEqual({ status: 400, body: INVALID_GRANT });
    expect((await generateStatus(sim, bearer)).status).toBe(200);
    sim.setAccount(token, { mode: 'refresh-500', times: 1 });
    expect((await refresh(sim, token)).status).toBe(500);
    expect((await refresh(sim, token)).status).toBe(200);
  });

  it('holds one account’s refresh calls for its refreshLatencyMs, listing each with the caller’s port meanwhile', async () => {
    const slow = refreshToken('slow-refresh');
    const fast = refreshToken('fast-refresh');
    sim.setAccount(slow, { refreshLatencyMs: 400 });
    sim.setAccount(fast, {});
    const pending = refresh(sim, slow);
    const deadline = Date.now() + 2_000;
    while (sim.pendingRefreshes().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const [held] = sim.pendingRefreshes();
    expect(held).toEqual({ account: slow, clientPort: expect.any(Number), since: expect.any(Number) });
    expect(held!.clientPort).toBeGreaterThan(0);
    expect(sim.stats.byAccount[slow]?.refresh ?? 0).toBe(0); // not answered yet
    expect((await refresh(sim, fast)).status).toBe(200); // other accounts are not held
    expect((await pending).status).toBe(200);
    expect(sim.pendingRefreshes()).toEqual([]);
  });

  it('accepts API keys sent with tokentype API_KEY as their own account', async () => {
    const key = 'ksk_simulated_key';
    sim.setAccount(key, { mode: 'quota-402', times: 1 });
    const call = () =>
      request(`${sim.url}/generateAssistantResponse`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, tokentype: 'API_KEY', 'content-type': 'application/json' },
        body: JSON.stringify(kiroBody('hi')),
      });
    const first = await call();
    await first.body.text();
    expect(first.statusCode).toBe(402);
    const second = await call();
    await second.body.text();
    expect(second.statusCode).toBe(200);
    expect(sim.stats.byAccount[key].generate).toBe(2);
  });
});

describe('getUsageLimits', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator();
  });
  afterAll(() => sim.close());

  const usage = (bearer: string, query = '?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST') =>
    request(`${sim.url}/getUsageLimits${query}`, { headers: { authorization: `Bearer ${bearer}` } });

  it('returns the §1.3 shape with the account’s subscription title and numbers', async () => {
    const token = refreshToken('usage');
    sim.setAccount(token, {
      subscriptionTitle: 'KIRO FREE',
      usage: {
        currentUsage: 12.5,
        usageLimit: 50,
        nextDateReset: 1767225600,
        freeTrial: { currentUsage: 1, usageLimit: 500 },
        bonuses: [{ currentUsage: 3.5, usageLimit: 100 }],
      },
    });
    const { body: tokens } = await refresh(sim, token);
    const res = await usage(tokens.accessToken);
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({
      nextDateReset: 1767225600,
      subscriptionInfo: { subscriptionTitle: 'KIRO FREE' },
      usageBreakdownList: [
        {
          currentUsage: 12,
          currentUsageWithPrecision: 12.5,
          usageLimit: 50,
          usageLimitWithPrecision: 50,
          nextDateReset: 1767225600,
          freeTrialInfo: {
            currentUsage: 1,
            currentUsageWithPrecision: 1,
            usageLimit: 500,
            usageLimitWithPrecision: 500,
            freeTrialExpiry: 1767225600,
            freeTrialStatus: 'ACTIVE',
          },
          bonuses: [{ currentUsage: 3.5, usageLimit: 100, status: 'ACTIVE' }],
        },
      ],
    });
    expect(sim.stats.byAccount[token].usage).toBe(1);
  });

  it('requires a valid bearer and the origin/resourceType query parameters', async () => {
    expect((await usage('nope')).statusCode).toBe(403);
    const { body: tokens } = await refresh(sim, refreshToken('usage-q'));
    const res = await usage(tokens.accessToken, '');
    expect(res.statusCode).toBe(400);
    await res.body.text();
  });

  it('applies account modes to usage calls only when appliesTo says so', async () => {
    const token = refreshToken('usage-mode');
    const { body: tokens } = await refresh(sim, token);
    sim.setAccount(token, { mode: 'suspended-403' });
    expect((await usage(tokens.accessToken)).statusCode).toBe(200);
    sim.setAccount(token, { mode: 'suspended-403', appliesTo: ['usage'] });
    expect((await usage(tokens.accessToken)).statusCode).toBe(403);
  });
});
