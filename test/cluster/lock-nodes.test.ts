/**
 * Redlock over independent masters (`redis.lockNodes`): three gateway processes share one store
 * Redis and take the refresh lock on three separate redis-servers. A storm of requests meets an
 * expired token while the simulator holds the refresh call open; one lock node is killed with
 * SIGKILL while the lock is held. The majority left (2 of 3) still excludes: exactly one refresh.
 * Then, with that node still dead, Kiro refuses the access token (every replica is told at once)
 * and again exactly one refresh replaces it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { adminCredentials, sha256, sleep, startCluster, type Cluster } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { expiredCredential, spreadMessages } from './harness.js';

const REQUESTS = 300;
const REFRESH_LATENCY_MS = 1_000;
const LOCK_KEY = 'kiro:lock:refresh:1';

let store: RedisServer;
let lockNodes: RedisServer[];
let sim: Simulator;
let cluster: Cluster;
const token = refreshTokenFor('lock-nodes');

beforeAll(async () => {
  [store, ...lockNodes] = await Promise.all([startRedis(), startRedis(), startRedis(), startRedis()]);
  sim = await createSimulator({ rotateRefreshTokens: true, refreshLatencyMs: REFRESH_LATENCY_MS, recentRequests: 2_000 });
  cluster = await startCluster({
    n: 3,
    simUrl: sim.url,
    redisUrl: store.url,
    credentials: [expiredCredential(token)],
    env: { KIRO_REDIS_LOCK_NODES: lockNodes.map((n) => n.url).join(',') },
  });
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await sim?.close();
  await Promise.all([store, ...(lockNodes ?? [])].map((r) => r?.stop()));
});

/** Requests spread over the replicas; all must succeed. */
async function storm(): Promise<void> {
  const results = await spreadMessages(cluster.replicas, REQUESTS);
  const failures = results.filter((r) => r.status !== 200);
  expect(failures.slice(0, 3), `${failures.length} of ${REQUESTS} failed`).toEqual([]);
}

/** Waits until a majority of lock nodes hold the refresh lock; returns those that do. */
async function nodesHoldingTheLock(): Promise<RedisServer[]> {
  const clients = lockNodes.map((n) => new Redis(n.url, { maxRetriesPerRequest: 1 }));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const held = await Promise.all(clients.map((c) => c.exists(LOCK_KEY)));
      const holders = lockNodes.filter((_, i) => held[i] === 1);
      if (holders.length >= 2) return holders;
      if (Date.now() > deadline) throw new Error('no replica took the refresh lock on a majority of the lock nodes');
      await sleep(5);
    }
  } finally {
    clients.forEach((c) => c.disconnect());
  }
}

async function storeHolds(key: string): Promise<number> {
  const raw = new Redis(store.url, { maxRetriesPerRequest: 1 });
  try {
    return await raw.exists(key);
  } finally {
    raw.disconnect();
  }
}

describe('refresh lock on 3 independent Redis masters', () => {
  it('one refresh per token while a lock node is killed mid-refresh, and with it dead', async () => {
    const first = storm();
    const holders = await nodesHoldingTheLock();
    expect(await storeHolds(LOCK_KEY)).toBe(0); // the lock lives on the lock nodes only
    holders[0]!.kill9();
    await first;
    expect(sim.stats.byAccount[token]).toMatchObject({ refresh: 1, generate: REQUESTS });

    // Kiro refuses the access token now: every replica forces a refresh, and only one may happen.
    sim.expireAccessTokens(token);
    await storm();
    expect(sim.stats.byAccount[token]?.refresh).toBe(2);

    const views = await Promise.all(cluster.replicas.map(async (r) => (await adminCredentials(r.url)).get(1)!));
    for (const c of views) expect(c).toMatchObject({ disabled: false, refreshFailureCount: 0 });
    expect(new Set(views.map((c) => c.refreshTokenHash)).size).toBe(1);
    expect(views[0]!.refreshTokenHash).not.toBe(sha256(token));
    for (const r of cluster.replicas) expect(r.alive).toBe(true);
  });
});
