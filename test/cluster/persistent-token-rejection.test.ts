/**
 * Issue 9 item 5 — a loop that hammers the auth endpoint: an upstream that answers 403 "bearer token
 * invalid" to every call of one account, even right after a successful refresh. Each client request
 * used to force one more refresh (907 requests → 94 refreshes in 6 s) and the credential never
 * stayed cooled down or disabled. Now a forced refresh happens at most once per credential per
 * `pool.forcedRefreshIntervalMs` over all replicas (the time is stored with the tokens), a refusal
 * right after it counts as a failure, the credential cools down and is disabled after
 * `pool.maxFailures` — the README's rule. Refresh calls are counted at the simulator.
 */
import { describe, expect, it } from 'vitest';
import { createSimulator } from '../../src/simulator/index.js';
import { startRedis } from '../helpers/redis.js';
import { adminCredentials, message, startCluster, type Replica } from '../helpers/replicas.js';
import { refreshTokenFor, startStack } from '../helpers/stack.js';
import { cleanupsPerTest } from './harness.js';

const cleanups = cleanupsPerTest();

/** `n` requests, `concurrency` at a time; resolves with their statuses and error types. */
async function burst(urls: string[], n: number, concurrency: number): Promise<Array<{ status: number; type?: string }>> {
  const out: Array<{ status: number; type?: string }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await message(urls[i % urls.length]!);
        out.push({ status: res.status, type: res.body?.error?.type });
      }
    }),
  );
  return out;
}

describe('an upstream that refuses every fresh token does not hammer the auth endpoint', () => {
  it('one credential, one process: 150 requests force at most one refresh; every answer is a clean error', async () => {
    const bad = refreshTokenFor('hammer-single');
    const stack = await startStack({ credentials: [{ refreshToken: bad, authMethod: 'social' }] });
    cleanups.push(() => stack.close());
    expect((await message(stack.url)).status).toBe(200); // warm-up: one refresh
    stack.sim.setAccount(bad, { mode: 'invalid-token-403' });
    const before = stack.sim.stats.byAccount[bad]!.refresh;

    const results = await burst([stack.url], 150, 20);

    expect(stack.sim.stats.byAccount[bad]!.refresh - before).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === 200)).toEqual([]);
    for (const r of results) expect(r.type, `HTTP ${r.status}`).toMatch(/^(api_error|overloaded_error)$/);
    const record = stack.gateway.store.list()[0]!;
    // Counted: disabled after 3 in a row (and self-healed when nothing else is left, kiro.rs's rule).
    expect(record.stats.failureTotal).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('two credentials, one process: the refusing one cools down, is disabled after 3 failures, the other serves', async () => {
    const bad = refreshTokenFor('hammer-bad');
    const good = refreshTokenFor('hammer-good');
    const stack = await startStack({
      credentials: [
        { refreshToken: bad, authMethod: 'social', priority: 0 },
        { refreshToken: good, authMethod: 'social', priority: 1 },
      ],
      env: { KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '300' },
    });
    cleanups.push(() => stack.close());
    stack.sim.setAccount(bad, { mode: 'invalid-token-403' });

    const started = Date.now();
    const results: number[] = [];
    while (Date.now() - started < 2_500) results.push((await message(stack.url)).status);

    expect(results.filter((s) => s !== 200)).toEqual([]);
    // The first refresh (no token yet) and one forced refresh; 1 + 1 tries, then one per cool-down.
    expect(stack.sim.stats.byAccount[bad]).toMatchObject({ refresh: 2, generate: 4 });
    const record = stack.gateway.store.list().find((r) => r.credential.priority === 0)!;
    expect(record.credential).toMatchObject({ disabled: true, disabledReason: 'TooManyFailures' });
    expect(record.stats).toMatchObject({ failureCount: 3, failureTotal: 3 });
  }, 30_000);

  it('three replicas sharing Redis: one forced refresh in all, disabled everywhere, the other credential serves', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const sim = await createSimulator();
    cleanups.push(() => sim.close());
    const bad = refreshTokenFor('hammer-cluster-bad');
    const good = refreshTokenFor('hammer-cluster-good');
    const cluster = await startCluster({
      n: 3,
      simUrl: sim.url,
      redisUrl: redis.url,
      credentials: [
        { id: 1, refreshToken: bad, authMethod: 'social', priority: 0 },
        { id: 2, refreshToken: good, authMethod: 'social', priority: 1 },
      ],
      env: { KIRO_REDIS_KEY_PREFIX: 'hammer:', KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '300' },
    });
    cleanups.push(() => cluster.close());
    const urls = cluster.replicas.map((r: Replica) => r.url);
    for (const url of urls) expect((await message(url)).status).toBe(200); // tokens of credential 1 shared
    sim.setAccount(bad, { mode: 'invalid-token-403' });
    const before = sim.stats.byAccount[bad]!.refresh;

    const results = await burst(urls, 150, 15);

    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(sim.stats.byAccount[bad]!.refresh - before).toBeLessThanOrEqual(1);
    for (const url of urls) {
      await expect
        .poll(async () => (await adminCredentials(url)).get(1), { timeout: 5_000, interval: 100 })
        .toMatchObject({ disabled: true, disabledReason: 'TooManyFailures' });
    }
  }, 60_000);
});
