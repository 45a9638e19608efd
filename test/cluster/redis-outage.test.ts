/**
 * Issue "Credential pool shared across replicas" — Redis stopped under load and restarted, once with
 * its data (appendonly) and once empty. Two gateway processes keep serving from their local copies
 * with the access tokens they already hold; /readyz says `degraded` meanwhile; a token refreshed and
 * a credential disabled during the outage reach Redis and the other replica afterwards; counters
 * add up; credentials.json is left alone.
 *
 * The outage lasts OUTAGE_MS = 30 s per case, as the issue asks (long enough for a periodic resync
 * and several reconnect attempts to fall inside it).
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createSimulator } from '../../src/simulator/index.js';
import { startRedis } from '../helpers/redis.js';
import {
  adminCredentials,
  adminPost,
  message,
  readyz,
  sha256,
  sleep,
  startCluster,
  type Replica,
} from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { cleanupsPerTest } from './harness.js';

const OUTAGE_MS = 30_000;
const CONCURRENCY_PER_REPLICA = 2;

const cleanups = cleanupsPerTest();

interface Sample {
  replica: string;
  status: number;
  at: number;
}

/** Requests in a loop on every replica until `stop()`; bounded by `maxMs` in any case. */
function startLoad(replicas: Replica[], maxMs: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const worker = async (r: Replica) => {
    while (!stopped && Date.now() < deadline) {
      const res = await message(r.url).catch(() => ({ status: -1 }));
      samples.push({ replica: r.name, status: res.status, at: Date.now() });
      await sleep(10);
    }
  };
  const all = Promise.all(replicas.flatMap((r) => Array.from({ length: CONCURRENCY_PER_REPLICA }, () => worker(r))));
  return {
    async stop() {
      stopped = true;
      await all;
      return samples;
    },
  };
}

async function outageCase(appendonly: boolean): Promise<void> {
  const redis = await startRedis({ appendonly });
  cleanups.push(() => redis.stop());
  const sim = await createSimulator({ rotateRefreshTokens: true });
  cleanups.push(() => sim.close());
  const prefix = appendonly ? 'outage-aof:' : 'outage-empty:';
  const [t1, t2, t3] = ['one', 'two', 'three'].map((x) => refreshTokenFor(`${prefix}${x}`)) as [string, string, string];
  const cluster = await startCluster({
    n: 2,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [
      { id: 1, refreshToken: t1, authMethod: 'social', priority: 0, unknownKey: 'kept' },
      { id: 2, refreshToken: t2, authMethod: 'social', priority: 1 },
      { id: 3, refreshToken: t3, authMethod: 'social', priority: 2 },
    ],
    env: { KIRO_REDIS_KEY_PREFIX: prefix },
  });
  cleanups.push(() => cluster.close());
  const fileBefore = readFileSync(cluster.credentialsPath, 'utf8');
  const [a, b] = cluster.replicas as [Replica, Replica];

  // Warm up: credential 1 gets its access token (one refresh, shared through Redis).
  for (const r of [a, b]) expect((await message(r.url)).status).toBe(200);
  expect(sim.stats.byAccount[t1]?.refresh).toBe(1);

  const load = startLoad([a, b], 40_000);
  await sleep(500);
  redis.kill9();
  const downAt = Date.now();
  for (const r of [a, b]) {
    await expect.poll(async () => (await readyz(r.url)).body.status, { timeout: 5_000, interval: 50 }).toBe('degraded');
  }

  // Durable changes while Redis is away: a refresh (rotating credential 2's token) and a disable.
  const refreshed = await adminPost(a.url, '/credentials/2/refresh');
  expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  const disabled = await adminPost(a.url, '/credentials/3/disabled', { disabled: true });
  expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);

  let checks = 0;
  while (Date.now() - downAt < OUTAGE_MS) {
    for (const r of [a, b]) {
      const ready = await readyz(r.url);
      expect(ready.status).toBe(200); // degraded still takes traffic
      expect(ready.body).toMatchObject({ status: 'degraded', store: { kind: 'redis', ok: true, degraded: true } });
      checks++;
    }
    await sleep(500);
  }
  expect(checks).toBeGreaterThan(4);

  const upAt = Date.now();
  await redis.restart();
  for (const r of [a, b]) {
    await expect.poll(async () => (await readyz(r.url)).body.status, { timeout: 10_000, interval: 100 }).toBe('ready');
  }
  await sleep(500);
  const samples = await load.stop();

  // Requests with cached tokens kept succeeding, on both replicas, before, during and after.
  const failed = samples.filter((s) => s.status !== 200);
  expect(failed.slice(0, 3), `${failed.length} of ${samples.length} requests failed`).toEqual([]);
  for (const r of [a, b]) {
    expect(samples.filter((s) => s.replica === r.name && s.at > downAt && s.at < upAt).length).toBeGreaterThan(10);
  }
  expect(sim.stats.byAccount[t1]?.refresh).toBe(1); // no refresh was needed for the cached token
  const served = samples.length + 2;

  // Reconciled: both replicas (and Redis) agree on what changed during the outage.
  const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cleanups.push(() => raw.disconnect());
  for (const r of [a, b]) {
    await expect
      .poll(async () => {
        const creds = await adminCredentials(r.url);
        return {
          rotated: creds.get(2)!.refreshTokenHash !== sha256(t2),
          three: [creds.get(3)!.disabled, creds.get(3)!.disabledReason],
        };
      }, { timeout: 10_000, interval: 100 })
      .toEqual({ rotated: true, three: [true, 'Manual'] });
  }
  const [ca, cb] = await Promise.all([adminCredentials(a.url), adminCredentials(b.url)]);
  expect(ca.get(2)!.refreshTokenHash).toBe(cb.get(2)!.refreshTokenHash);
  expect(sha256((await raw.hget(`${prefix}cred:2`, 'refreshToken'))!)).toBe(ca.get(2)!.refreshTokenHash);
  expect(await raw.zrange(`${prefix}ids`, 0, -1)).toEqual(['1', '2', '3']);
  // The rotated token made during the outage is the live one: the other replica can refresh with it.
  const again = await adminPost(b.url, '/credentials/2/refresh');
  expect(again.status, JSON.stringify(again.body)).toBe(200);
  expect(sim.stats.byAccount[t2]?.refresh).toBe(2);

  // Counters: every success of both replicas reaches Redis and both views.
  const successes = async () => [
    (await adminCredentials(a.url)).get(1)!.successCount,
    (await adminCredentials(b.url)).get(1)!.successCount,
    Number(await raw.hget(`${prefix}stats:1`, 'successCount')),
  ];
  if (appendonly) {
    await expect.poll(successes, { timeout: 5_000, interval: 100 }).toEqual([served, served, served]);
  } else {
    // Empty Redis: the first replica back re-seeds it with its local copy (absolute counts), the other
    // adds its unsent increments. Increments of the other replica flushed just before the crash but
    // not yet read back by the re-seeding one can be missed: a counter may fall short by those few.
    await expect.poll(async () => new Set(await successes()).size, { timeout: 5_000, interval: 100 }).toBe(1);
    const [count] = await successes();
    expect(count).toBeLessThanOrEqual(served);
    expect(count).toBeGreaterThanOrEqual(served - 20);
    console.log(`empty-Redis case: successCount ${count} of ${served} served`);
  }

  // credentials.json is the seed only: the Redis store never rewrites it.
  expect(readFileSync(cluster.credentialsPath, 'utf8')).toBe(fileBefore);
}

describe('Redis outage under load', () => {
  it(`Redis killed for ${OUTAGE_MS / 1000} s and restarted with its data (appendonly)`, () => outageCase(true), 90_000);
  it(`Redis killed for ${OUTAGE_MS / 1000} s and restarted empty`, () => outageCase(false), 90_000);
});
