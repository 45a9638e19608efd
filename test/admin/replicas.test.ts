/**
 * Issue "Admin API and admin web UI that work against any replica": two gateway processes share one
 * real redis-server; every admin change made through replica A is visible through replica B within
 * 1 s, and is persisted (a replica started afterwards sees it too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { adminCredentials, ensureBuilt, message, startCluster, startReplica, type Cluster } from '../helpers/replicas.js';
import { simScript } from '../../src/simulator/index.js';
import { ADMIN_KEY, refreshTokenFor } from '../helpers/stack.js';

let redis: RedisServer;
let sim: Simulator;
let cluster: Cluster;
const PREFIX = 'admin-replicas:';

async function admin(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/admin${path}`, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Resolves how long it took until `check` held on `url`'s admin view; fails past 1 s. */
async function visibleWithin1s(check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > 1_000) throw new Error('change not visible on the other replica within 1 s');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  await ensureBuilt();
  redis = await startRedis();
  sim = await createSimulator();
  cluster = await startCluster({
    n: 2,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [
      { id: 1, refreshToken: refreshTokenFor('admin-a'), authMethod: 'social', priority: 0 },
      { id: 2, refreshToken: refreshTokenFor('admin-b'), authMethod: 'social', priority: 1 },
    ],
    env: { KIRO_REDIS_KEY_PREFIX: PREFIX },
  });
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await sim?.close();
  await redis?.stop();
});

describe('admin changes across replicas', () => {
  it('shows a credential added through A on B', async () => {
    const [a, b] = cluster.replicas;
    const added = await admin(a!.url, 'POST', '/credentials', { refreshToken: refreshTokenFor('admin-new'), authMethod: 'social', priority: 5 });
    expect(added.status).toBe(200);
    const id = added.body.credentialId as number;
    await visibleWithin1s(async () => (await adminCredentials(b!.url)).has(id));
    expect((await adminCredentials(b!.url)).get(id)?.priority).toBe(5);
  });

  it('sums the Kiro credits both replicas metered into the credential’s stats, the same on either', async () => {
    const [a, b] = cluster.replicas;
    // Binary fractions, so the sum is exact whatever order Redis adds them in.
    const metered = (credits: number) => simScript({ events: [{ text: 'Metered.' }, { contextUsage: 1 }, { metering: credits }] });
    for (const [url, credits] of [
      [a!.url, 0.25],
      [b!.url, 0.125],
      [a!.url, 0.5],
      [b!.url, 0.0625],
    ] as const) {
      expect((await message(url, { text: `Bill me ${metered(credits)}` })).status).toBe(200);
    }
    const total = 0.25 + 0.125 + 0.5 + 0.0625;
    for (const url of [a!.url, b!.url]) {
      await expect.poll(async () => (await adminCredentials(url)).get(1)?.creditsUsed, { timeout: 5_000, interval: 50 }).toBe(total);
    }
    expect((await adminCredentials(a!.url)).get(2)?.creditsUsed).toBe(0);
  });

  it('disables through A and B sees it disabled', async () => {
    const [a, b] = cluster.replicas;
    expect((await admin(a!.url, 'POST', '/credentials/2/disabled', { disabled: true })).status).toBe(200);
    await visibleWithin1s(async () => (await adminCredentials(b!.url)).get(2)?.disabled === true);
  });

  it('changes priority through B and A sees it', async () => {
    const [a, b] = cluster.replicas;
    expect((await admin(b!.url, 'POST', '/credentials/1/priority', { priority: 7 })).status).toBe(200);
    await visibleWithin1s(async () => (await adminCredentials(a!.url)).get(1)?.priority === 7);
  });

  it('resets through A and B sees it enabled again', async () => {
    const [a, b] = cluster.replicas;
    expect((await admin(a!.url, 'POST', '/credentials/2/reset')).status).toBe(200);
    await visibleWithin1s(async () => (await adminCredentials(b!.url)).get(2)?.disabled === false);
  });

  it('switches the load-balancing mode through A and B reports it', async () => {
    const [a, b] = cluster.replicas;
    const put = await admin(a!.url, 'PUT', '/config/load-balancing', { mode: 'balanced' });
    expect(put.status).toBe(200);
    await visibleWithin1s(async () => (await admin(b!.url, 'GET', '/config/load-balancing')).body.mode === 'balanced');
  });

  it('deletes a disabled credential through B and A no longer lists it', async () => {
    const [a, b] = cluster.replicas;
    await admin(b!.url, 'POST', '/credentials/2/disabled', { disabled: true });
    await visibleWithin1s(async () => (await adminCredentials(b!.url)).get(2)?.disabled === true);
    expect((await admin(b!.url, 'DELETE', '/credentials/2')).status).toBe(200);
    await visibleWithin1s(async () => !(await adminCredentials(a!.url)).has(2));
  });

  it('lists both replicas in the cluster view of either one', async () => {
    const [a, b] = cluster.replicas;
    await expect
      .poll(async () => (await admin(b!.url, 'GET', '/cluster')).body.replicas?.length ?? 0, { timeout: 8_000, interval: 200 })
      .toBeGreaterThanOrEqual(2);
    const view = await admin(a!.url, 'GET', '/cluster');
    expect(view.status).toBe(200);
  });

  it('persists every change: a replica started afterwards sees the same state', async () => {
    const late = await startReplica({
      name: 'late',
      simUrl: sim.url,
      credentialsPath: cluster.credentialsPath,
      redisUrl: redis.url,
      env: { KIRO_REDIS_KEY_PREFIX: PREFIX },
    });
    try {
      const creds = await adminCredentials(late.url);
      expect(creds.has(2)).toBe(false);
      expect(creds.get(1)?.priority).toBe(7);
      expect(creds.get(1)?.creditsUsed).toBe(0.9375);
      expect([...creds.values()].some((c) => c.priority === 5)).toBe(true);
      expect((await admin(late.url, 'GET', '/config/load-balancing')).body.mode).toBe('balanced');
    } finally {
      await late.kill9();
    }
  });
});
