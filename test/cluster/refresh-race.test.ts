/**
 * Issue "Credential pool shared across replicas" — refresh race: three gateway processes on one
 * Redis, one credential whose token is already expired, 500 concurrent requests spread over the
 * three. The simulator rotates refresh tokens and answers refreshes slowly, so every request arrives
 * while the refresh is in flight: exactly one refresh may reach the auth service, and every request
 * must succeed (a second refresh would use the retired token and get invalid_grant).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { redisForFile } from '../helpers/file-redis.js';
import { adminCredentials, sha256, startCluster, type Cluster } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { expiredCredential, spreadMessages } from './harness.js';

const REQUESTS = 500;
const REFRESH_LATENCY_MS = 1_000;

const redis = redisForFile();
let sim: Simulator;
let cluster: Cluster;
const token = refreshTokenFor('race');

beforeAll(async () => {
  sim = await createSimulator({ rotateRefreshTokens: true, refreshLatencyMs: REFRESH_LATENCY_MS, recentRequests: 1_000 });
  cluster = await startCluster({
    n: 3,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [expiredCredential(token)],
  });
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await sim?.close();
});

describe('refresh race across replicas', () => {
  it(`${REQUESTS} concurrent requests over 3 replicas with an expired token cause exactly one refresh`, async () => {
    const { replicas } = cluster;
    const started = performance.now();
    const results = await spreadMessages(replicas, REQUESTS);
    const elapsed = performance.now() - started;

    const failures = results.filter((r) => r.status !== 200);
    expect(failures.slice(0, 3), `${failures.length} of ${REQUESTS} failed`).toEqual([]);
    expect(sim.stats.refresh).toBe(1);
    expect(sim.stats.byAccount[token]).toMatchObject({ refresh: 1, generate: REQUESTS });
    // The race happened: every replica had requests waiting on the one refresh in flight.
    for (let k = 0; k < replicas.length; k++) {
      const waited = results.filter((r, i) => i % replicas.length === k && r.ms >= REFRESH_LATENCY_MS * 0.9).length;
      expect(waited, `requests on replica ${k} that waited for the refresh`).toBeGreaterThan(0);
    }
    expect(elapsed).toBeLessThan(30_000);

    // All replicas hold the rotated token, and the counters of all three add up in Redis.
    for (const r of replicas) {
      const cred = (await adminCredentials(r.url)).get(1)!;
      expect(cred.refreshTokenHash).not.toBe(sha256(token));
      expect(cred.disabled).toBe(false);
    }
    const hashes = await Promise.all(replicas.map(async (r) => (await adminCredentials(r.url)).get(1)!.refreshTokenHash));
    expect(new Set(hashes).size).toBe(1);
    await expect
      .poll(async () => (await Promise.all(replicas.map(async (r) => (await adminCredentials(r.url)).get(1)!.successCount))), { timeout: 5_000 })
      .toEqual([REQUESTS, REQUESTS, REQUESTS]);
  });
});
