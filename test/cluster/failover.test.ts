/**
 * Issue "Credential pool shared across replicas" — failover across replicas: credentials that answer
 * 429, 403 (suspended), 402 (quota), refresh invalid_grant and 5xx are passed over within the per-
 * request limits (3 tries per credential, 9 per request, docs/kiro-protocol.md §9.1), and what one
 * replica learns (cool-downs, counters, auto-disable) is what every replica's admin API shows and
 * acts on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { redisForFile } from '../helpers/file-redis.js';
import { adminCredentials, message, startCluster, type AdminCredential, type Cluster } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { cleanupsPerTest } from './harness.js';

const cleanups = cleanupsPerTest();
const redis = redisForFile();
let sim: Simulator;

beforeAll(async () => {
  sim = await createSimulator();
});
afterAll(async () => {
  await sim?.close();
});

async function cluster(prefix: string, credentials: Array<{ token: string; priority: number }>, env: Record<string, string> = {}): Promise<Cluster> {
  const c = await startCluster({
    n: 3,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: credentials.map((x, i) => ({ id: i + 1, refreshToken: x.token, authMethod: 'social', priority: x.priority })),
    // A cool-down long enough to still run when the second request arrives on another replica.
    env: { KIRO_REDIS_KEY_PREFIX: prefix, KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '60000', ...env },
  });
  cleanups.push(() => c.close());
  return c;
}

/** Waits until `check` holds for the admin view of every replica. */
async function onEveryReplica(c: Cluster, check: (creds: Map<number, AdminCredential>) => void): Promise<void> {
  for (const r of c.replicas) {
    await expect
      .poll(
        async () => {
          try {
            check(await adminCredentials(r.url));
            return true;
          } catch (err) {
            return (err as Error).message;
          }
        },
        { timeout: 5_000, interval: 50 },
      )
      .toBe(true);
  }
}

const calls = (token: string) => sim.stats.byAccount[token] ?? { refresh: 0, generate: 0, usage: 0, mcp: 0 };

describe('failover across replicas', () => {
  it('passes over 429, suspended 403, quota 402, invalid_grant and 5xx credentials within 3 tries each and 9 per request', async () => {
    const t = {
      rateLimited: refreshTokenFor('fo-429'),
      suspended: refreshTokenFor('fo-403'),
      quota: refreshTokenFor('fo-402'),
      invalidGrant: refreshTokenFor('fo-grant'),
      serverError: refreshTokenFor('fo-500'),
      ok: refreshTokenFor('fo-ok'),
    };
    sim.setAccount(t.rateLimited, { mode: 'rate-limit-429' });
    sim.setAccount(t.suspended, { mode: 'suspended-403' });
    sim.setAccount(t.quota, { mode: 'quota-402' });
    sim.setAccount(t.invalidGrant, { mode: 'refresh-invalid-grant' });
    sim.setAccount(t.serverError, { mode: 'server-error-500' });
    // ids 1..6 in this order, preferred in this order
    const c = await cluster('fo1:', Object.values(t).map((token, priority) => ({ token, priority })));
    const [a, b, third] = c.replicas;

    const first = await message(a!.url);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // 429 once (then cooling down), 403 and 402 once (disabled), invalid_grant: no API call,
    // 500 three times (the per-credential limit, with backoff), then the healthy one: 7 of 9 tries.
    expect([t.rateLimited, t.suspended, t.quota, t.invalidGrant, t.serverError, t.ok].map((x) => calls(x).generate)).toEqual([1, 1, 1, 0, 3, 1]);
    expect(calls(t.invalidGrant).refresh).toBe(1);

    await onEveryReplica(c, (creds) => {
      expect(creds.get(1)).toMatchObject({ disabled: false });
      expect(creds.get(1)!.cooldownUntil).not.toBeNull();
      expect(creds.get(1)!.lastError).toMatch(/Too many requests/);
      expect(creds.get(2)).toMatchObject({ disabled: true, disabledReason: 'Suspended' });
      expect(creds.get(3)).toMatchObject({ disabled: true, disabledReason: 'QuotaExceeded' });
      expect(creds.get(4)).toMatchObject({ disabled: true, disabledReason: 'InvalidRefreshToken' });
      // 5xx is transient: not counted against the credential.
      expect(creds.get(5)).toMatchObject({ disabled: false, failureCount: 0 });
      expect(creds.get(6)).toMatchObject({ disabled: false, successCount: 1 });
    });

    // Another replica skips the cooling and the disabled credentials it has never tried itself.
    const second = await message(b!.url);
    expect(second.status).toBe(200);
    expect([t.rateLimited, t.suspended, t.quota, t.invalidGrant, t.serverError, t.ok].map((x) => calls(x).generate)).toEqual([1, 1, 1, 0, 6, 2]);
    expect(calls(t.invalidGrant).refresh).toBe(1);
    await onEveryReplica(c, (creds) => expect(creds.get(6)).toMatchObject({ successCount: 2 }));

    // When every credential fails, the client gets an error after at most 9 tries (3 per credential).
    sim.setAccount(t.ok, { mode: 'server-error-503' });
    const tokens = [t.rateLimited, t.serverError, t.ok];
    const before = tokens.map((x) => calls(x).generate);
    const last = await message(third!.url);
    expect([429, 502]).toContain(last.status);
    const tries = tokens.map((x, i) => calls(x).generate - before[i]!);
    expect(tries.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(9);
    for (const n of tries) expect(n).toBeLessThanOrEqual(3);
    expect(tries.slice(1)).toEqual([3, 3]);
  }, 60_000); // the last request spends ~11 s in §9.1 backoff

  it('counts consecutive auth and refresh failures across replicas and disables at 3 everywhere', async () => {
    const badBearer = refreshTokenFor('fo-bearer');
    const refresh500 = refreshTokenFor('fo-r500');
    const ok = refreshTokenFor('fo-ok2');
    sim.setAccount(badBearer, { mode: 'invalid-token-403' });
    sim.setAccount(refresh500, { mode: 'refresh-500' });
    const c = await cluster('fo2:', [
      { token: badBearer, priority: 0 },
      { token: refresh500, priority: 1 },
      { token: ok, priority: 2 },
    ], { KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '0' }); // no cool-down after a refused token: every request tries it

    // One request per replica, each started once the previous replica's counts are visible to it.
    for (let i = 0; i < 3; i++) {
      const r = c.replicas[i]!;
      await onEveryReplica(c, (creds) => {
        expect(creds.get(1)!.failureCount).toBe(i);
        expect(creds.get(2)!.refreshFailureCount).toBe(i);
      });
      const res = await message(r.url);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    // Bearer rejected: the first request forces a refresh and retries, then it counts (§9.2); the
    // forced refresh is paced over all replicas (pool.forcedRefreshIntervalMs), so the next requests
    // count the refusal at once without calling the auth service again.
    expect(calls(badBearer)).toMatchObject({ generate: 4, refresh: 2 });
    expect(calls(refresh500)).toMatchObject({ refresh: 3, generate: 0 });
    expect(calls(ok)).toMatchObject({ generate: 3 });

    await onEveryReplica(c, (creds) => {
      expect(creds.get(1)).toMatchObject({ disabled: true, disabledReason: 'TooManyFailures', failureCount: 3 });
      expect(creds.get(2)).toMatchObject({ disabled: true, disabledReason: 'TooManyRefreshFailures', refreshFailureCount: 3 });
      expect(creds.get(3)).toMatchObject({ disabled: false, successCount: 3, failureCount: 0 });
    });

    // Disabled everywhere: the next request on any replica goes straight to the healthy credential.
    const res = await message(c.replicas[1]!.url);
    expect(res.status).toBe(200);
    expect(calls(badBearer).generate).toBe(4);
    expect(calls(refresh500).refresh).toBe(3);
  });

  it('tries a credential disabled for failed refreshes again on every replica once pool.refreshFailureRetryMs has passed', { timeout: 60_000 }, async () => {
    const flaky = refreshTokenFor('fo-auth-outage');
    const ok = refreshTokenFor('fo-ok3');
    sim.setAccount(flaky, { mode: 'refresh-500' }); // the auth service is down for this account
    const c = await cluster('fo3:', [
      { token: flaky, priority: 0 },
      { token: ok, priority: 1 },
    ], { KIRO_POOL_REFRESH_FAILURE_RETRY_MS: '8000' }); // room for a busy machine before it runs out
    for (let i = 0; i < 3; i++) {
      await onEveryReplica(c, (creds) => expect(creds.get(1)!.refreshFailureCount).toBe(i));
      expect((await message(c.replicas[i]!.url)).status).toBe(200); // served by credential 2
    }
    await onEveryReplica(c, (creds) => expect(creds.get(1)).toMatchObject({ disabled: true, disabledReason: 'TooManyRefreshFailures' }));
    const disabledUntil = Date.parse((await adminCredentials(c.replicas[0]!.url)).get(1)!.disabledUntil!);
    expect(disabledUntil).toBeGreaterThan(Date.now());
    // While it is out, requests do not turn into refresh calls.
    expect((await message(c.replicas[0]!.url)).status).toBe(200);
    expect(calls(flaky).refresh).toBe(3);

    sim.setAccount(flaky, {}); // the auth service is back
    await new Promise((r) => setTimeout(r, Math.max(0, disabledUntil - Date.now()) + 100));
    expect((await message(c.replicas[1]!.url)).status).toBe(200);
    expect(calls(flaky)).toMatchObject({ refresh: 4, generate: 1 });
    await onEveryReplica(c, (creds) => expect(creds.get(1)).toMatchObject({ disabled: false, refreshFailureCount: 0 }));
  });
});
