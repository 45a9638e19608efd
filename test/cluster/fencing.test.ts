/**
 * Fencing a refresh-lock holder that stood still past its TTL (a long GC pause, a stalled VM): the
 * holder stops itself with SIGSTOP at a step of its refresh (KIRO_TEST_REFRESH_PAUSE_MS=stop, see
 * src/credentials/token-refresh.ts), its lock expires (no extension while stopped), another replica
 * takes the lock and refreshes, and the holder is resumed with SIGCONT.
 *
 * - Without rotation both refreshes succeed upstream, so the late holder has valid but older tokens:
 *   its write is refused by the compare-and-set in Redis and the store keeps the newer ones.
 * - With rotation the late holder's refresh is refused (the other replica rotated the token); that
 *   late verdict must neither count a failure nor disable the credential.
 *
 * Either way every replica ends on the one token in Redis, the credential enabled, and the late
 * holder's own request succeeds with that token.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { redisForFile } from '../helpers/file-redis.js';
import { adminCredentials, message, sha256, sleep, startCluster, type Replica } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { cleanupsPerTest, expiredCredential, spreadMessages } from './harness.js';

const LOCK_TTL_MS = 1_000;
const REQUESTS = 20;

const cleanups = cleanupsPerTest();
const redis = redisForFile();

/** The process state letter from /proc (`T` = stopped). */
function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
}

async function waitStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (processState(pid) !== 'T') {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not stop`);
    await sleep(5);
  }
}

let caseNo = 0;

interface Setup {
  sim: Simulator;
  late: Replica;
  next: Replica;
  prefix: string;
  token: string;
  /** The late holder's request, sent first so it takes the lock. */
  lateRequest: Promise<{ status: number }>;
}

/** Two replicas, one expired credential; the first replica stops itself at `pause` while holding the lock. */
async function setup(rotate: boolean, pause: 'before' | 'after-upstream'): Promise<Setup> {
  caseNo++;
  const prefix = `fence${caseNo}:`;
  const token = refreshTokenFor(`fence${caseNo}`);
  const sim = await createSimulator({ rotateRefreshTokens: rotate });
  cleanups.push(() => sim.close());
  const cluster = await startCluster({
    n: 2,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [expiredCredential(token)],
    env: { KIRO_REDIS_KEY_PREFIX: prefix, KIRO_REDIS_LOCK_TTL_MS: String(LOCK_TTL_MS) },
    envFor: (i): Record<string, string> => (i === 0 ? { KIRO_TEST_REFRESH_PAUSE: pause, KIRO_TEST_REFRESH_PAUSE_MS: 'stop' } : {}),
  });
  cleanups.push(() => cluster.close()); // SIGKILL ends a stopped process too
  const [late, next] = cluster.replicas as [Replica, Replica];
  const lateRequest = message(late.url, { signal: AbortSignal.timeout(60_000) }).catch((err: Error) => ({ status: -1, error: err.message }));
  await late.waitForOutput(new RegExp(`KIRO_TEST_REFRESH_PAUSE ${pause} credential=1`), 15_000);
  await waitStopped(late.pid);
  expect(await redis.raw.exists(`${prefix}lock:refresh:1`)).toBe(1); // held by the stopped process, for now
  return { sim, late, next, prefix, token, lateRequest };
}

/** Requests on the other replica: they wait out the stopped holder's lock, then one refresh serves all. */
async function serveFromNext(s: Setup): Promise<void> {
  const results = await spreadMessages([s.next], REQUESTS);
  const failed = results.filter((r) => r.status !== 200);
  expect(failed.slice(0, 2), `${failed.length} of ${REQUESTS} requests failed on the other replica`).toEqual([]);
}

async function stored(s: Setup): Promise<Record<string, string>> {
  return redis.raw.hgetall(`${s.prefix}cred:1`);
}

/** Every replica shows the credential as Redis has it: enabled, uncounted, on one token. */
async function expectOneTokenEverywhere(s: Setup, inRedis: Record<string, string>): Promise<void> {
  expect(inRedis).toMatchObject({ disabled: '0' });
  expect(inRedis.disabledReason).toBeUndefined();
  for (const r of [s.late, s.next]) {
    await expect
      .poll(async () => (await adminCredentials(r.url)).get(1), { timeout: 5_000 })
      .toMatchObject({ disabled: false, refreshFailureCount: 0, expiresAt: inRedis.expiresAt, refreshTokenHash: sha256(inRedis.refreshToken!) });
  }
}

describe('a refresh-lock holder stopped past its TTL (SIGSTOP), then resumed (SIGCONT)', () => {
  it('without rotation: its late token write is refused in Redis, the newer token stays', async () => {
    const s = await setup(false, 'after-upstream');
    expect(s.sim.stats.byAccount[s.token]?.refresh).toBe(1); // the late holder has new tokens in hand

    await serveFromNext(s);
    expect(s.sim.stats.byAccount[s.token]?.refresh).toBe(2); // the lock expired: the other replica refreshed
    const newer = await stored(s);
    expect(newer.accessToken).toBeTruthy();

    process.kill(s.late.pid, 'SIGCONT');
    expect((await s.lateRequest).status).toBe(200);
    await s.late.waitForOutput(/refreshed tokens not stored: another replica stored newer ones/, 10_000);
    const after = await stored(s);
    expect(after).toMatchObject({ accessToken: newer.accessToken, expiresAt: newer.expiresAt, _rev: newer._rev });
    await expectOneTokenEverywhere(s, after);
    expect(s.sim.stats.byAccount[s.token]?.refresh).toBe(2);
  });

  it('with rotation: its late refusal (the token was rotated by the other replica) neither counts nor disables', async () => {
    const s = await setup(true, 'before');
    expect(s.sim.stats.byAccount[s.token]?.refresh ?? 0).toBe(0);

    await serveFromNext(s);
    expect(s.sim.stats.byAccount[s.token]?.refresh).toBe(1);
    const rotated = await stored(s);
    expect(rotated.refreshToken).not.toBe(s.token);

    process.kill(s.late.pid, 'SIGCONT');
    expect((await s.lateRequest).status).toBe(200);
    await s.late.waitForOutput(/refresh refused for tokens another replica had already replaced/, 10_000);
    // The late holder did call the auth service with the retired token, and was refused.
    expect(s.sim.stats.byAccount[s.token]?.refresh).toBe(2);
    await sleep(500); // a disable or a counted failure would be written by now (stats flush every 200 ms)
    const after = await stored(s);
    expect(after).toMatchObject({ refreshToken: rotated.refreshToken, accessToken: rotated.accessToken });
    expect(await redis.raw.hget(`${s.prefix}stats:1`, 'failureTotal')).toBeNull();
    await expectOneTokenEverywhere(s, after);
  });
});
