/**
 * Issue "Credential pool shared across replicas" — rotation safety: the replica holding a
 * credential's refresh lock is killed with SIGKILL at each step of the refresh, and the two
 * surviving replicas must carry on.
 *
 * The steps are hit deterministically with the pool's test hook (KIRO_TEST_REFRESH_PAUSE, see
 * src/credentials/token-refresh.ts), set on the victim only: it stops at the step, says so on stderr, and is
 * killed there. One more case kills the victim while its refresh call is held open by the
 * simulator's refreshLatencyMs (no hook): the auth service processes the call, the answer is lost.
 *
 * What the design guarantees, and what these tests check:
 * - killed before the upstream call, or after writing: nothing is lost. Survivors wait at most the
 *   lock TTL, then refresh with the stored token (before) or find the victim's stored token (after).
 * - killed after the auth service rotated the refresh token but before the new one was written: the
 *   rotated token existed only in the dead process, and the old one is retired upstream. Nothing can
 *   recover it. The guarantee is that this fails closed: the survivor's refresh gets invalid_grant,
 *   the credential is disabled as InvalidRefreshToken on every replica (visible in the admin API),
 *   and requests fail over to the other credentials. Without rotation the old token still works and
 *   the credential simply refreshes again.
 */
import { describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { redisForFile } from '../helpers/file-redis.js';
import { adminCredentials, message, sha256, sleep, startCluster, type Cluster, type Replica } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { cleanupsPerTest, expiredCredential, spreadMessages } from './harness.js';

const LOCK_TTL_MS = 1_000;
const SURVIVOR_REQUESTS = 20;

const cleanups = cleanupsPerTest();
const redis = redisForFile();

let caseNo = 0;

interface Setup {
  sim: Simulator;
  cluster: Cluster;
  victim: Replica;
  survivors: Replica[];
  prefix: string;
  t1: string;
  t2: string;
  /** The victim's request, started before the kill; it can only fail. */
  victimRequest: Promise<unknown>;
}

/** Two credentials (1 preferred, 2 as fallback), both expired; three replicas; a request on the victim. */
async function setup(opts: { rotate: boolean; pause?: 'before' | 'after-upstream' | 'after-write'; refreshLatencyMs?: number }): Promise<Setup> {
  caseNo++;
  const prefix = `rot${caseNo}:`;
  const t1 = refreshTokenFor(`rot${caseNo}-one`);
  const t2 = refreshTokenFor(`rot${caseNo}-two`);
  const sim = await createSimulator({ rotateRefreshTokens: opts.rotate, refreshLatencyMs: opts.refreshLatencyMs ?? 0 });
  cleanups.push(() => sim.close());
  const cluster = await startCluster({
    n: 3,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [
      expiredCredential(t1, { priority: 0 }),
      expiredCredential(t2, { id: 2, priority: 1 }),
    ],
    env: { KIRO_REDIS_KEY_PREFIX: prefix, KIRO_REDIS_LOCK_TTL_MS: String(LOCK_TTL_MS) },
    envFor: (i): Record<string, string> => (i === 0 && opts.pause ? { KIRO_TEST_REFRESH_PAUSE: opts.pause, KIRO_TEST_REFRESH_PAUSE_MS: '60000' } : {}),
  });
  cleanups.push(() => cluster.close());
  const [victim, ...survivors] = cluster.replicas as [Replica, ...Replica[]];
  const victimRequest = message(victim.url).catch(() => undefined);
  return { sim, cluster, victim, survivors, prefix, t1, t2, victimRequest };
}

/** Sends requests spread over the survivors; all must succeed. */
async function serveFromSurvivors(s: Setup): Promise<void> {
  const results = await spreadMessages(s.survivors, SURVIVOR_REQUESTS);
  const failed = results.filter((r) => r.status !== 200);
  expect(failed.slice(0, 2), `${failed.length} of ${SURVIVOR_REQUESTS} requests failed on the survivors`).toEqual([]);
}

async function killVictimAt(s: Setup, point: string): Promise<void> {
  await s.victim.waitForOutput(new RegExp(`KIRO_TEST_REFRESH_PAUSE ${point} credential=1`), 15_000);
  expect(await redis.raw.exists(`${s.prefix}lock:refresh:1`)).toBe(1); // the victim holds the lock
  await s.victim.kill9();
  await s.victimRequest;
}

describe('kill -9 of the refresh lock holder', () => {
  it('before the upstream call: a survivor refreshes with the stored token after the lock TTL', async () => {
    const s = await setup({ rotate: true, pause: 'before' });
    await killVictimAt(s, 'before');
    expect(s.sim.stats.refresh).toBe(0);

    const started = performance.now();
    await serveFromSurvivors(s);
    expect(performance.now() - started).toBeLessThan(LOCK_TTL_MS * 2 + 3_000);

    expect(s.sim.stats.byAccount[s.t1]).toMatchObject({ refresh: 1, generate: SURVIVOR_REQUESTS });
    for (const r of s.survivors) {
      const c1 = (await adminCredentials(r.url)).get(1)!;
      expect(c1.disabled).toBe(false);
      expect(c1.refreshTokenHash).not.toBe(sha256(s.t1)); // the rotated token was stored
    }
  });

  it('after writing the new tokens (lock not released): survivors use the stored token without refreshing', async () => {
    const s = await setup({ rotate: true, pause: 'after-write' });
    await killVictimAt(s, 'after-write');
    expect(s.sim.stats.byAccount[s.t1]?.refresh).toBe(1);

    await serveFromSurvivors(s);
    expect(s.sim.stats.byAccount[s.t1]).toMatchObject({ refresh: 1, generate: SURVIVOR_REQUESTS });
    for (const r of s.survivors) {
      const c1 = (await adminCredentials(r.url)).get(1)!;
      expect(c1).toMatchObject({ disabled: false, refreshFailureCount: 0 });
      expect(c1.refreshTokenHash).not.toBe(sha256(s.t1));
    }
  });

  it('after the upstream call, before writing, without rotation: a survivor refreshes again with the same token', async () => {
    const s = await setup({ rotate: false, pause: 'after-upstream' });
    await killVictimAt(s, 'after-upstream');
    expect(s.sim.stats.byAccount[s.t1]?.refresh).toBe(1);

    await serveFromSurvivors(s);
    expect(s.sim.stats.byAccount[s.t1]).toMatchObject({ refresh: 2, generate: SURVIVOR_REQUESTS });
    for (const r of s.survivors) expect((await adminCredentials(r.url)).get(1)).toMatchObject({ disabled: false });
  });

  it('after the upstream call, before writing, with rotation: the credential is disabled everywhere and requests fail over', async () => {
    const s = await setup({ rotate: true, pause: 'after-upstream' });
    await killVictimAt(s, 'after-upstream');

    await serveFromSurvivors(s);
    // The survivor's refresh used the retired token: invalid_grant, once (the failure is shared by its waiters).
    expect(s.sim.stats.byAccount[s.t1]?.generate ?? 0).toBe(0);
    expect(s.sim.stats.byAccount[s.t2]).toMatchObject({ refresh: 1, generate: SURVIVOR_REQUESTS });
    for (const r of s.survivors) {
      await expect.poll(async () => (await adminCredentials(r.url)).get(1), { timeout: 5_000 }).toMatchObject({
        disabled: true,
        disabledReason: 'InvalidRefreshToken',
      });
      expect((await adminCredentials(r.url)).get(2)).toMatchObject({ disabled: false });
    }
  });

  it('while the auth service holds the refresh call open (no hook), with rotation: same outcome as above', async () => {
    const s = await setup({ rotate: true, refreshLatencyMs: 1_500 });
    // The victim took the lock and sent its refresh; the simulator answers only after 1.5 s.
    const deadline = Date.now() + 10_000;
    while ((await redis.raw.exists(`${s.prefix}lock:refresh:1`)) === 0) {
      if (Date.now() > deadline) throw new Error(`the victim never took the refresh lock:\n${s.victim.output()}`);
      await sleep(5);
    }
    await sleep(300); // the request is on the wire by now
    await s.victim.kill9();
    await s.victimRequest;
    expect(s.sim.stats.refresh).toBe(0); // not answered yet

    await serveFromSurvivors(s);
    // The simulator processed the victim's call (rotating the token) before the survivor's.
    expect(s.sim.stats.byAccount[s.t1]?.refresh).toBe(2);
    expect(s.sim.stats.byAccount[s.t1]?.generate ?? 0).toBe(0);
    expect(s.sim.stats.byAccount[s.t2]).toMatchObject({ generate: SURVIVOR_REQUESTS });
    for (const r of s.survivors) {
      await expect.poll(async () => (await adminCredentials(r.url)).get(1), { timeout: 5_000 }).toMatchObject({
        disabled: true,
        disabledReason: 'InvalidRefreshToken',
      });
    }
  });
});
